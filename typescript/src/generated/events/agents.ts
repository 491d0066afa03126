/* Generated from schemas/events/agents.json by `npm run generate`. Do not edit. */

/**
 * Events of the `agents` channel.
 */
export type AgentEvent =
  | {
      data: AgentRef;
      type: "agent_started";
    }
  | {
      data: AgentRef;
      type: "agent_stopped";
    }
  | {
      data: AgentHeartbeat;
      type: "agent_heartbeat";
    }
  | {
      data: AgentError;
      type: "agent_error";
    };

/**
 * A payload naming only an agent.
 */
export interface AgentRef {
  /**
   * The agent.
   */
  agent_id: string;
}
/**
 * `agent_heartbeat`.
 */
export interface AgentHeartbeat {
  /**
   * The agent.
   */
  agent_id: string;
  /**
   * The agent's self-reported status (`{"health": "good", "tasks": 5}`).
   */
  status: unknown;
}
/**
 * `agent_error`.
 */
export interface AgentError {
  /**
   * The agent.
   */
  agent_id: string;
  /**
   * What went wrong.
   */
  error: string;
}
