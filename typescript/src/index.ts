// Stable names for the generated protocol types (brain.v1), plus the few
// runtime helpers a client needs to tell control messages from events.
// Everything under ./generated is produced by `npm run generate` from
// ../schemas, which the Rust crate `brain-ws-protocol` generates.

import type { ClientMessage } from "./generated/client-message.js";
import type { Control, EventEnvelope, ServerMessage } from "./generated/server-message.js";
import type { AgentEvent } from "./generated/events/agents.js";
import type { AuditEvent } from "./generated/events/audit.js";
import type { MetricsEvent } from "./generated/events/metrics.js";
import type { MissionEvent } from "./generated/events/missions.js";
import type { SystemEvent } from "./generated/events/system.js";
import type { TaskEvent } from "./generated/events/tasks.js";
import type { InfoResponse } from "./generated/http/info-response.js";
import { CONTROL_TYPES, EVENT_CATALOGUE } from "./generated/constants.js";

// WebSocket messages.
export type { ClientMessage, StreamPosition } from "./generated/client-message.js";
export type {
  ChannelName,
  Connected,
  Control as ControlMessage,
  ErrorMessage,
  EventEnvelope,
  Join,
  Leave,
  Ping as ServerPing,
  PresenceInfo,
  Pong as ServerPong,
  ServerMessage,
  Subscribed,
  Unsubscribed,
} from "./generated/server-message.js";
export type { EventType } from "./generated/http/broadcast-request.js";

/** `{"type":"subscribe","channel":..,"since"?:..}` */
export type SubscribeMessage = Extract<ClientMessage, { type: "subscribe" }>;
/** `{"type":"unsubscribe","channel":..}` */
export type UnsubscribeMessage = Extract<ClientMessage, { type: "unsubscribe" }>;
/** `{"type":"ping"}`: a client liveness check; the server answers `pong`. */
export type ClientPing = Extract<ClientMessage, { type: "ping" }>;
/** `{"type":"pong"}`: the answer to a server `ping`. */
export type ClientPong = Extract<ClientMessage, { type: "pong" }>;
/** `{"type":"publish","channel":..,"event":..,"data":..}` */
export type PublishMessage = Extract<ClientMessage, { type: "publish" }>;

// HTTP API bodies.
export type { BroadcastRequest } from "./generated/http/broadcast-request.js";
export type { BroadcastResponse } from "./generated/http/broadcast-response.js";
export type { BroadcastAllRequest } from "./generated/http/broadcast-all-request.js";
export type { BroadcastAllResponse } from "./generated/http/broadcast-all-response.js";
export type { SendToUserRequest } from "./generated/http/send-to-user-request.js";
export type { SendToUserResponse } from "./generated/http/send-to-user-response.js";
export type { NodeStats, StatsResponse } from "./generated/http/stats-response.js";
export type { ChannelSubscribersResponse } from "./generated/http/channel-subscribers-response.js";
export type { PresenceResponse } from "./generated/http/presence-response.js";
export type { PresenceStatsResponse } from "./generated/http/presence-stats-response.js";
export type { HistoryResponse } from "./generated/http/history-response.js";
export type { Endpoints, Features, HistoryInfo, InfoResponse } from "./generated/http/info-response.js";
export type { HealthResponse } from "./generated/http/health-response.js";
export type { ErrorBody, ErrorDetail } from "./generated/http/error-body.js";
/** How a server treats tokens (`GET /api/ws/info` → `auth`). */
export type AuthMode = InfoResponse["auth"];

// The event catalogue of the standard channels.
export type { AgentError, AgentEvent, AgentHeartbeat, AgentRef } from "./generated/events/agents.js";
export type { AuditEvent, AuditLog } from "./generated/events/audit.js";
export type { MetricsEvent, MetricsUpdate } from "./generated/events/metrics.js";
export type {
  MissionCancelled,
  MissionCompleted,
  MissionCreated,
  MissionEvent,
  MissionFailed,
  MissionRef,
} from "./generated/events/missions.js";
export type { SystemAlert, SystemEvent, SystemHealth, SystemStatus } from "./generated/events/system.js";
export type { TaskCompleted, TaskEvent, TaskFailed, TaskRef } from "./generated/events/tasks.js";

export {
  CHANNEL_NAME_PATTERN,
  CLIENT_TYPES,
  CONTROL_TYPES,
  EVENT_CATALOGUE,
  EVENT_TYPE_PATTERN,
  MAX_CHANNEL_LEN,
  MAX_EVENT_TYPE_LEN,
  PROTOCOL_VERSION,
  RESERVED_TYPES,
} from "./generated/constants.js";
export {
  CLOSE_CODE_TABLE,
  CLOSE_CODES,
  shouldReconnect,
  TERMINAL_CLOSE_CODES,
  TERMINAL_CLOSE_RANGE,
  type CloseCodeName,
} from "./generated/close-codes.js";

/** One of the six standard channels. */
export type StandardChannel = keyof typeof EVENT_CATALOGUE;

/** A typed event of the catalogue: `{type, data}` as in an envelope. */
export type CatalogueEvent = MissionEvent | AgentEvent | SystemEvent | TaskEvent | AuditEvent | MetricsEvent;

// The generated constants and types must agree; these fail to compile if not.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const controlTypesMatch: Same<(typeof CONTROL_TYPES)[number], Control["type"]> = true;
const catalogueMatches: Same<(typeof EVENT_CATALOGUE)[StandardChannel][number], CatalogueEvent["type"]> = true;
void controlTypesMatch;
void catalogueMatches;

const controlTypes: ReadonlySet<string> = new Set(CONTROL_TYPES);
const catalogueTypes: ReadonlySet<string> = new Set(Object.values(EVENT_CATALOGUE).flat());

/**
 * Whether a server message is a control message. An event's `type` is any
 * string that is not a control type, so `switch (msg.type)` alone cannot
 * narrow `ServerMessage`; test this first, then switch on the control type.
 * In the `false` branch the message is an `EventEnvelope`.
 */
export function isControl(msg: ServerMessage): msg is Control {
  return controlTypes.has(msg.type);
}

/**
 * The envelope as a typed catalogue event when its `type` is in the
 * catalogue, else `undefined` (unknown types stay raw, so a newer server never
 * breaks an older client). The payload's shape is trusted, not validated.
 */
export function catalogueEvent(env: EventEnvelope): CatalogueEvent | undefined {
  return catalogueTypes.has(env.type) ? ({ type: env.type, data: env.data } as CatalogueEvent) : undefined;
}
