//! Typed event emitters, mirroring the seed's `emit_*` functions (Event
//! Broadcasting, "Backend Event Emitters"). Each builds a catalogue event and
//! publishes it on its standard channel through [`Node::emit`].

use brain_ws_protocol::catalog::*;
use brain_ws_protocol::{ChannelName, EventType};
use serde_json::{Map, Value};

use crate::broker::Published;
use crate::node::{Node, PublishError};

/// `Result` of an emitter: what became of the event (see [`Node::publish`]).
pub type EmitResult = Result<Published, PublishError>;

impl Node {
    /// `mission_created` on `missions`; `mission_data` fields are flattened
    /// into the payload next to `mission_id`.
    pub async fn emit_mission_created(
        &self,
        mission_id: &str,
        mission_data: Map<String, Value>,
    ) -> EmitResult {
        self.emit(Event::Mission(MissionEvent::MissionCreated(
            MissionCreated {
                mission_id: mission_id.into(),
                mission_data,
            },
        )))
        .await
    }

    /// `mission_started` on `missions`.
    pub async fn emit_mission_started(&self, mission_id: &str) -> EmitResult {
        self.emit(Event::Mission(MissionEvent::MissionStarted(MissionRef {
            mission_id: mission_id.into(),
        })))
        .await
    }

    /// `mission_completed` on `missions`.
    pub async fn emit_mission_completed(
        &self,
        mission_id: &str,
        result: Option<Value>,
    ) -> EmitResult {
        self.emit(Event::Mission(MissionEvent::MissionCompleted(
            MissionCompleted {
                mission_id: mission_id.into(),
                result,
            },
        )))
        .await
    }

    /// `mission_failed` on `missions`.
    pub async fn emit_mission_failed(&self, mission_id: &str, error: &str) -> EmitResult {
        self.emit(Event::Mission(MissionEvent::MissionFailed(MissionFailed {
            mission_id: mission_id.into(),
            error: error.into(),
        })))
        .await
    }

    /// `mission_cancelled` on `missions`.
    pub async fn emit_mission_cancelled(
        &self,
        mission_id: &str,
        reason: Option<&str>,
    ) -> EmitResult {
        self.emit(Event::Mission(MissionEvent::MissionCancelled(
            MissionCancelled {
                mission_id: mission_id.into(),
                reason: reason.map(Into::into),
            },
        )))
        .await
    }

    /// `agent_started` on `agents`.
    pub async fn emit_agent_started(&self, agent_id: &str) -> EmitResult {
        self.emit(Event::Agent(AgentEvent::AgentStarted(AgentRef {
            agent_id: agent_id.into(),
        })))
        .await
    }

    /// `agent_stopped` on `agents`.
    pub async fn emit_agent_stopped(&self, agent_id: &str) -> EmitResult {
        self.emit(Event::Agent(AgentEvent::AgentStopped(AgentRef {
            agent_id: agent_id.into(),
        })))
        .await
    }

    /// `agent_heartbeat` on `agents`.
    pub async fn emit_agent_heartbeat(&self, agent_id: &str, status: Value) -> EmitResult {
        self.emit(Event::Agent(AgentEvent::AgentHeartbeat(AgentHeartbeat {
            agent_id: agent_id.into(),
            status,
        })))
        .await
    }

    /// `agent_error` on `agents`.
    pub async fn emit_agent_error(&self, agent_id: &str, error: &str) -> EmitResult {
        self.emit(Event::Agent(AgentEvent::AgentError(AgentError {
            agent_id: agent_id.into(),
            error: error.into(),
        })))
        .await
    }

    /// `system_startup` on `system`, naming this node (published like any
    /// event: to the cluster). The node sends one itself once its broker is
    /// up (`Node::start`).
    pub async fn emit_system_startup(&self, status: &str) -> EmitResult {
        self.emit(Event::System(SystemEvent::SystemStartup(SystemStatus {
            status: status.into(),
            node_id: Some(self.config().node_id.clone()),
        })))
        .await
    }

    /// `system_shutdown` on `system`, naming this node, published like any
    /// event. The node's own shutdown announcement is local instead
    /// (`Node::shutdown`): only this node's connections are going away.
    pub async fn emit_system_shutdown(&self, status: &str) -> EmitResult {
        self.emit(Event::System(SystemEvent::SystemShutdown(SystemStatus {
            status: status.into(),
            node_id: Some(self.config().node_id.clone()),
        })))
        .await
    }

    /// `system_health` on `system`; the report's fields are the payload.
    pub async fn emit_system_health(&self, health: Map<String, Value>) -> EmitResult {
        self.emit(Event::System(SystemEvent::SystemHealth(SystemHealth {
            health,
        })))
        .await
    }

    /// `system_alert` on `system`.
    pub async fn emit_system_alert(
        &self,
        level: &str,
        message: &str,
        details: Value,
    ) -> EmitResult {
        self.emit(Event::System(SystemEvent::SystemAlert(SystemAlert {
            level: level.into(),
            message: message.into(),
            details,
        })))
        .await
    }

    /// `task_queued` on `tasks`.
    pub async fn emit_task_queued(&self, task_id: &str, task_name: &str) -> EmitResult {
        self.emit(Event::Task(TaskEvent::TaskQueued(TaskRef {
            task_id: task_id.into(),
            task_name: task_name.into(),
        })))
        .await
    }

    /// `task_started` on `tasks`.
    pub async fn emit_task_started(&self, task_id: &str, task_name: &str) -> EmitResult {
        self.emit(Event::Task(TaskEvent::TaskStarted(TaskRef {
            task_id: task_id.into(),
            task_name: task_name.into(),
        })))
        .await
    }

    /// `task_completed` on `tasks`.
    pub async fn emit_task_completed(
        &self,
        task_id: &str,
        task_name: &str,
        result: Option<Value>,
    ) -> EmitResult {
        self.emit(Event::Task(TaskEvent::TaskCompleted(TaskCompleted {
            task_id: task_id.into(),
            task_name: task_name.into(),
            result,
        })))
        .await
    }

    /// `task_failed` on `tasks`.
    pub async fn emit_task_failed(
        &self,
        task_id: &str,
        task_name: &str,
        error: &str,
    ) -> EmitResult {
        self.emit(Event::Task(TaskEvent::TaskFailed(TaskFailed {
            task_id: task_id.into(),
            task_name: task_name.into(),
            error: error.into(),
        })))
        .await
    }

    /// `metrics_update` on `metrics`; the metric fields are the payload.
    pub async fn emit_metrics_update(&self, metrics: Map<String, Value>) -> EmitResult {
        self.emit(Event::Metrics(MetricsEvent::MetricsUpdate(MetricsUpdate {
            metrics,
        })))
        .await
    }

    /// `audit_log` on `audit`.
    pub async fn emit_audit_log(
        &self,
        action: &str,
        user_id: &str,
        resource: &str,
        details: Value,
    ) -> EmitResult {
        self.emit(Event::Audit(AuditEvent::AuditLog(AuditLog {
            action: action.into(),
            user_id: user_id.into(),
            resource: resource.into(),
            details,
        })))
        .await
    }

    /// A custom event on any channel (the seed's `emit_event`), or, with
    /// `user_id`, to that user's connections only.
    pub async fn emit_event(
        &self,
        channel: &ChannelName,
        event_type: &EventType,
        data: Value,
        user_id: Option<&str>,
    ) -> EmitResult {
        match user_id {
            Some(user) => self.send_to_user(user, event_type, data).await,
            None => self.publish(channel, event_type, data).await,
        }
    }
}
