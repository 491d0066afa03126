//! The typed event catalogue of the standard channels (Architecture,
//! "Standard Channels"; Event Broadcasting, "Backend Event Emitters").
//!
//! Each channel's events are an adjacently tagged enum, `{"type": ..., "data":
//! ...}`, which is exactly how they travel inside an [`EventEnvelope`]
//! (`type` and `data` fields). [`Event::decode`] turns any `(type, data)` pair
//! into a typed event, and falls back to [`Event::Other`] for types this
//! version does not know, so a newer server never breaks an older client.
//!
//! [`EventEnvelope`]: crate::EventEnvelope

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{ChannelName, EventType};

/// The six channels of the seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StandardChannel {
    /// Mission updates.
    Missions,
    /// Agent status.
    Agents,
    /// System events.
    System,
    /// Background tasks.
    Tasks,
    /// Audit logs.
    Audit,
    /// Performance metrics.
    Metrics,
}

impl StandardChannel {
    /// All standard channels, in the seed's order.
    pub const ALL: [StandardChannel; 6] = [
        Self::Missions,
        Self::Agents,
        Self::System,
        Self::Tasks,
        Self::Audit,
        Self::Metrics,
    ];

    /// The channel's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missions => "missions",
            Self::Agents => "agents",
            Self::System => "system",
            Self::Tasks => "tasks",
            Self::Audit => "audit",
            Self::Metrics => "metrics",
        }
    }

    /// The channel as a [`ChannelName`].
    pub fn name(self) -> ChannelName {
        // The six names are valid by construction (checked by a test).
        ChannelName::new(self.as_str()).unwrap_or_else(|_| unreachable!())
    }
}

/// `mission_created`: the mission id plus the mission's own fields, flattened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MissionCreated {
    /// The mission.
    pub mission_id: String,
    /// The mission's data (name, priority, ...), flattened into the payload.
    #[serde(flatten)]
    pub mission_data: Map<String, Value>,
}

/// A payload naming only a mission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MissionRef {
    /// The mission.
    pub mission_id: String,
}

/// `mission_completed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MissionCompleted {
    /// The mission.
    pub mission_id: String,
    /// What the mission produced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
}

/// `mission_failed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MissionFailed {
    /// The mission.
    pub mission_id: String,
    /// Why it failed.
    pub error: String,
}

/// `mission_cancelled`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MissionCancelled {
    /// The mission.
    pub mission_id: String,
    /// Why it was cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Events of the `missions` channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum MissionEvent {
    /// A mission was created.
    MissionCreated(MissionCreated),
    /// A mission started.
    MissionStarted(MissionRef),
    /// A mission completed.
    MissionCompleted(MissionCompleted),
    /// A mission failed.
    MissionFailed(MissionFailed),
    /// A mission was cancelled.
    MissionCancelled(MissionCancelled),
}

/// A payload naming only an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AgentRef {
    /// The agent.
    pub agent_id: String,
}

/// `agent_heartbeat`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AgentHeartbeat {
    /// The agent.
    pub agent_id: String,
    /// The agent's self-reported status (`{"health": "good", "tasks": 5}`).
    pub status: Value,
}

/// `agent_error`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AgentError {
    /// The agent.
    pub agent_id: String,
    /// What went wrong.
    pub error: String,
}

/// Events of the `agents` channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum AgentEvent {
    /// An agent started.
    AgentStarted(AgentRef),
    /// An agent stopped.
    AgentStopped(AgentRef),
    /// An agent reported its status.
    AgentHeartbeat(AgentHeartbeat),
    /// An agent failed.
    AgentError(AgentError),
}

/// `system_startup` and `system_shutdown`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SystemStatus {
    /// `started`, `stopping`, ...
    pub status: String,
    /// The node that started or is stopping (`node_id` of `/api/ws/info`).
    /// **[server]** `system_startup` is published to the whole cluster once
    /// the node's broker is up; `system_shutdown` goes to the stopping
    /// node's own connections only and is not kept in history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
}

/// `system_health`: the health report's fields, flattened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SystemHealth {
    /// The health report (`{"status": "healthy", "checks": {...}}`).
    #[serde(flatten)]
    pub health: Map<String, Value>,
}

/// `system_alert`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SystemAlert {
    /// `info`, `warning`, `error`, `critical`.
    pub level: String,
    /// What happened.
    pub message: String,
    /// Details.
    #[serde(default)]
    pub details: Value,
}

/// Events of the `system` channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum SystemEvent {
    /// The server or system started.
    SystemStartup(SystemStatus),
    /// The server or system is shutting down.
    SystemShutdown(SystemStatus),
    /// A health report.
    SystemHealth(SystemHealth),
    /// An alert.
    SystemAlert(SystemAlert),
}

/// `task_queued` and `task_started`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TaskRef {
    /// The task.
    pub task_id: String,
    /// The task's kind, such as `send_email`.
    pub task_name: String,
}

/// `task_completed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TaskCompleted {
    /// The task.
    pub task_id: String,
    /// The task's kind.
    pub task_name: String,
    /// What it produced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
}

/// `task_failed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TaskFailed {
    /// The task.
    pub task_id: String,
    /// The task's kind.
    pub task_name: String,
    /// Why it failed.
    pub error: String,
}

/// Events of the `tasks` channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum TaskEvent {
    /// A task was queued.
    TaskQueued(TaskRef),
    /// A task started.
    TaskStarted(TaskRef),
    /// A task completed.
    TaskCompleted(TaskCompleted),
    /// A task failed.
    TaskFailed(TaskFailed),
}

/// `audit_log`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AuditLog {
    /// What was done.
    pub action: String,
    /// Who did it.
    pub user_id: String,
    /// To what.
    pub resource: String,
    /// Details.
    #[serde(default)]
    pub details: Value,
}

/// Events of the `audit` channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum AuditEvent {
    /// An audited action.
    AuditLog(AuditLog),
}

/// `metrics_update`: the metrics, flattened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MetricsUpdate {
    /// Metric names and values.
    #[serde(flatten)]
    pub metrics: Map<String, Value>,
}

/// Events of the `metrics` channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum MetricsEvent {
    /// New metric values.
    MetricsUpdate(MetricsUpdate),
}

/// An event whose type this version does not know (or whose payload does not
/// match its known type), kept raw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RawEvent {
    /// The event type as sent.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The payload as sent.
    pub data: Value,
}

/// Any event: typed when it is in the catalogue, raw otherwise.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A `missions` event.
    Mission(MissionEvent),
    /// An `agents` event.
    Agent(AgentEvent),
    /// A `system` event.
    System(SystemEvent),
    /// A `tasks` event.
    Task(TaskEvent),
    /// An `audit` event.
    Audit(AuditEvent),
    /// A `metrics` event.
    Metrics(MetricsEvent),
    /// Anything else, kept raw.
    Other(RawEvent),
}

/// The event types of each standard channel.
const MISSION_TYPES: &[&str] = &[
    "mission_created",
    "mission_started",
    "mission_completed",
    "mission_failed",
    "mission_cancelled",
];
const AGENT_TYPES: &[&str] = &[
    "agent_started",
    "agent_stopped",
    "agent_heartbeat",
    "agent_error",
];
const SYSTEM_TYPES: &[&str] = &[
    "system_startup",
    "system_shutdown",
    "system_health",
    "system_alert",
];
const TASK_TYPES: &[&str] = &[
    "task_queued",
    "task_started",
    "task_completed",
    "task_failed",
];

impl Event {
    /// Every event type in the catalogue with its standard channel.
    pub fn catalogue() -> impl Iterator<Item = (&'static str, StandardChannel)> {
        let family = |types: &'static [&'static str], ch| types.iter().map(move |t| (*t, ch));
        family(MISSION_TYPES, StandardChannel::Missions)
            .chain(family(AGENT_TYPES, StandardChannel::Agents))
            .chain(family(SYSTEM_TYPES, StandardChannel::System))
            .chain(family(TASK_TYPES, StandardChannel::Tasks))
            .chain(family(&["audit_log"], StandardChannel::Audit))
            .chain(family(&["metrics_update"], StandardChannel::Metrics))
    }

    /// Decodes an event from its envelope's `type` and `data`. Never fails:
    /// unknown types and payloads that do not fit their type become
    /// [`Event::Other`].
    pub fn decode(event_type: &str, data: Value) -> Event {
        let channel = Self::catalogue()
            .find(|(t, _)| *t == event_type)
            .map(|(_, ch)| ch);
        let Some(channel) = channel else {
            return Event::Other(RawEvent {
                event_type: event_type.to_owned(),
                data,
            });
        };
        let tagged = serde_json::json!({ "type": event_type, "data": data });
        let typed = match channel {
            StandardChannel::Missions => MissionEvent::deserialize(&tagged).map(Event::Mission),
            StandardChannel::Agents => AgentEvent::deserialize(&tagged).map(Event::Agent),
            StandardChannel::System => SystemEvent::deserialize(&tagged).map(Event::System),
            StandardChannel::Tasks => TaskEvent::deserialize(&tagged).map(Event::Task),
            StandardChannel::Audit => AuditEvent::deserialize(&tagged).map(Event::Audit),
            StandardChannel::Metrics => MetricsEvent::deserialize(&tagged).map(Event::Metrics),
        };
        typed.unwrap_or_else(|_| {
            let data = match tagged {
                Value::Object(mut map) => map.remove("data").unwrap_or(Value::Null),
                _ => Value::Null,
            };
            Event::Other(RawEvent {
                event_type: event_type.to_owned(),
                data,
            })
        })
    }

    /// The standard channel of a catalogue event; `None` for [`Event::Other`].
    pub fn channel(&self) -> Option<StandardChannel> {
        Some(match self {
            Event::Mission(_) => StandardChannel::Missions,
            Event::Agent(_) => StandardChannel::Agents,
            Event::System(_) => StandardChannel::System,
            Event::Task(_) => StandardChannel::Tasks,
            Event::Audit(_) => StandardChannel::Audit,
            Event::Metrics(_) => StandardChannel::Metrics,
            Event::Other(_) => return None,
        })
    }

    /// The event's wire `type` and `data`.
    pub fn into_parts(self) -> (EventType, Value) {
        let tagged = match self {
            Event::Mission(e) => serde_json::to_value(e),
            Event::Agent(e) => serde_json::to_value(e),
            Event::System(e) => serde_json::to_value(e),
            Event::Task(e) => serde_json::to_value(e),
            Event::Audit(e) => serde_json::to_value(e),
            Event::Metrics(e) => serde_json::to_value(e),
            Event::Other(raw) => {
                let event_type = EventType::new(&raw.event_type)
                    .unwrap_or_else(|_| EventType::from_static("unknown"));
                return (event_type, raw.data);
            }
        };
        let Ok(Value::Object(mut map)) = tagged else {
            unreachable!("adjacently tagged enums serialize to objects")
        };
        let event_type = match map.remove("type") {
            Some(Value::String(t)) => EventType::new(&t).unwrap_or_else(|_| unreachable!()),
            _ => unreachable!("adjacently tagged enums carry a string tag"),
        };
        (event_type, map.remove("data").unwrap_or(Value::Null))
    }
}
