/* Generated from schemas/server-message.json by `npm run generate`. Do not edit. */

/**
 * Any message a BRAiN server sends on a WebSocket: a control message or an event envelope.
 */
export type ServerMessage = Control | EventEnvelope;
/**
 * The control messages, internally tagged by `type`.
 */
export type Control = Connected | Ping | Pong | Subscribed | Unsubscribed | ErrorMessage | Join | Leave;
/**
 * A channel name: 1 to 128 ASCII letters, digits and _ . : @ -
 */
export type ChannelName = string;

/**
 * Connection Management, "Welcome Message": the first message on every connection.
 */
export interface Connected {
  /**
   * A UUID v4 naming this connection in stats and logs.
   */
  connection_id: string;
  /**
   * Seconds between server pings; a client that hears nothing for longer
   * than this (plus a grace period) can treat the server as gone.
   */
  heartbeat_interval: number;
  /**
   * The protocol identifier, `brain.v1`.
   */
  protocol: string;
  /**
   * Seconds since the Unix epoch.
   */
  timestamp: number;
  /**
   * The authenticated user, when the connection carried a valid token.
   */
  user_id?: string | null;
  type: "connected";
}
/**
 * Connection Management, "Heartbeat": the server's periodic liveness probe.
 */
export interface Ping {
  /**
   * Seconds since the Unix epoch.
   */
  timestamp: number;
  type: "ping";
}
/**
 * The server's answer to a client `ping`.
 */
export interface Pong {
  /**
   * Seconds since the Unix epoch.
   */
  timestamp: number;
  type: "pong";
}
/**
 * Channel System, "Confirmation" of a subscribe.
 */
export interface Subscribed {
  /**
   * The channel now subscribed.
   */
  channel: string;
  /**
   * The channel history's epoch, when the channel keeps history.
   */
  epoch?: string | null;
  /**
   * The offset of the channel's latest event, when it keeps history.
   */
  offset?: number | null;
  /**
   * For a subscribe with `presence: true`: whether `join` and `leave`
   * messages follow (true: the channel has presence enabled; false: it
   * has not, and none will come). Absent when presence was not asked for.
   */
  presence?: boolean | null;
  /**
   * For a subscribe with `since`: whether every missed event is replayed
   * (true) or some were lost (false).
   */
  recovered?: boolean | null;
  /**
   * For a subscribe with `rewind`: how many retained events are replayed
   * before live ones (fewer than asked when the history holds fewer; 0
   * on a channel without history).
   */
  replayed?: number | null;
  /**
   * Seconds since the Unix epoch.
   */
  timestamp: number;
  type: "subscribed";
}
/**
 * Channel System, "Unsubscribing" confirmation.
 */
export interface Unsubscribed {
  /**
   * The channel left.
   */
  channel: string;
  /**
   * Seconds since the Unix epoch.
   */
  timestamp: number;
  type: "unsubscribed";
}
/**
 * The answer to a client message the server could not honour. The connection
 * stays open (docs/protocol.md, "Error codes").
 */
export interface ErrorMessage {
  /**
   * The channel the failed request named, when it named one (verbatim, so
   * it may be an invalid name).
   */
  channel?: string | null;
  /**
   * What went wrong, for programs.
   */
  code: string;
  /**
   * What went wrong, for people.
   */
  message: string;
  type: "error";
}
/**
 * Presence: a connection subscribed to a presence channel. Sent to the
 * channel's other subscribers that asked with `presence: true`.
 */
export interface Join {
  /**
   * The presence channel.
   */
  channel: string;
  info: PresenceInfo;
  /**
   * Seconds since the Unix epoch, when the server sent it.
   */
  timestamp: number;
  type: "join";
}
/**
 * Who joined.
 */
export interface PresenceInfo {
  /**
   * The subscribed connection (its `connected.connection_id`).
   */
  connection_id: string;
  /**
   * When it subscribed, in seconds since the Unix epoch.
   */
  joined_at: number;
  /**
   * The node the connection is on.
   */
  node_id: string;
  /**
   * The connection's authenticated user, when it has one.
   */
  user_id?: string | null;
}
/**
 * Presence: a connection left a presence channel (unsubscribed,
 * disconnected, or its node stopped answering). Sent to the channel's
 * subscribers that asked with `presence: true`.
 */
export interface Leave {
  /**
   * The presence channel.
   */
  channel: string;
  info: PresenceInfo1;
  /**
   * Seconds since the Unix epoch, when the server sent it.
   */
  timestamp: number;
  type: "leave";
}
/**
 * Who left (as in its `join`).
 */
export interface PresenceInfo1 {
  /**
   * The subscribed connection (its `connected.connection_id`).
   */
  connection_id: string;
  /**
   * When it subscribed, in seconds since the Unix epoch.
   */
  joined_at: number;
  /**
   * The node the connection is on.
   */
  node_id: string;
  /**
   * The connection's authenticated user, when it has one.
   */
  user_id?: string | null;
}
/**
 * Event Broadcasting: an event as subscribers receive it.
 *
 * Channel broadcasts carry `channel`; messages sent to one user and
 * broadcasts to every connection do not. `offset` is present on channels
 * that keep history.
 */
export interface EventEnvelope {
  /**
   * The channel the event was published on.
   */
  channel?: ChannelName | null;
  /**
   * The event payload.
   */
  data: unknown;
  /**
   * The event's position in the channel history.
   */
  offset?: number | null;
  /**
   * Seconds since the Unix epoch, when the event was published.
   */
  timestamp: number;
  /**
   * The event type, never one of the reserved control types.
   */
  type: string;
}
