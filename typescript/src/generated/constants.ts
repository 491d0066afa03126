/* Generated from schemas/ by `npm run generate`. Do not edit. */

/** The protocol identifier (`connected.protocol`), from schemas/asyncapi.json. */
export const PROTOCOL_VERSION = "brain.v1";

/** Types an event may not use: the protocol's own message types. */
export const RESERVED_TYPES = ["connected","ping","pong","subscribed","unsubscribed","error","join","leave","subscribe","unsubscribe","publish"] as const;

/** The `type` of every server control message; any other `type` is an event. */
export const CONTROL_TYPES = ["connected","ping","pong","subscribed","unsubscribed","error","join","leave"] as const;

/** The `type` of every client message. */
export const CLIENT_TYPES = ["subscribe","unsubscribe","pong","ping","publish"] as const;

/** Longest channel name, in characters (all allowed characters are ASCII). */
export const MAX_CHANNEL_LEN = 128;

/** What a valid channel name matches. */
export const CHANNEL_NAME_PATTERN = new RegExp("^[A-Za-z0-9_.:@-]{1,128}$");

/** Longest event type, in characters (all allowed characters are ASCII). */
export const MAX_EVENT_TYPE_LEN = 64;

/** What a valid event type matches (it must also not be one of `RESERVED_TYPES`). */
export const EVENT_TYPE_PATTERN = new RegExp("^[A-Za-z0-9_.:-]{1,64}$");

/** The event types of each standard channel. */
export const EVENT_CATALOGUE = {
  "agents": [
    "agent_started",
    "agent_stopped",
    "agent_heartbeat",
    "agent_error"
  ],
  "audit": [
    "audit_log"
  ],
  "metrics": [
    "metrics_update"
  ],
  "missions": [
    "mission_created",
    "mission_started",
    "mission_completed",
    "mission_failed",
    "mission_cancelled"
  ],
  "system": [
    "system_startup",
    "system_shutdown",
    "system_health",
    "system_alert"
  ],
  "tasks": [
    "task_queued",
    "task_started",
    "task_completed",
    "task_failed"
  ]
} as const;
