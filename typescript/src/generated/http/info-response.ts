/* Generated from schemas/http/info-response.json by `npm run generate`. Do not edit. */

/**
 * `GET /api/ws/info` response.
 */
export interface InfoResponse {
  /**
   * Token handling.
   */
  auth: "none" | "optional" | "required";
  /**
   * `memory` or `redis`.
   */
  broker: string;
  /**
   * Channel names or patterns that accept client `publish`.
   */
  client_publish_channels: string[];
  endpoints: Endpoints;
  features: Features;
  /**
   * Seconds between server pings.
   */
  heartbeat_interval: number;
  /**
   * Seconds a connection may stay silent after a ping before it is closed.
   */
  heartbeat_timeout: number;
  history: HistoryInfo;
  /**
   * Largest accepted frame or HTTP body, in bytes.
   */
  max_message_size: number;
  /**
   * Most subscriptions one connection may hold.
   */
  max_subscriptions: number;
  /**
   * Server name.
   */
  name: string;
  /**
   * This node's id.
   */
  node_id: string;
  /**
   * Channel names or patterns that keep presence (empty: presence off).
   */
  presence_channels?: string[];
  /**
   * Protocol identifier, `brain.v1`.
   */
  protocol: string;
  /**
   * Server version.
   */
  version: string;
}
/**
 * Served endpoints.
 */
export interface Endpoints {
  /**
   * HTTP endpoints.
   */
  http: string[];
  /**
   * WebSocket endpoints.
   */
  websocket: string[];
}
/**
 * Optional features.
 */
export interface Features {
  /**
   * Tokens are verified (auth mode optional or required).
   */
  authentication: boolean;
  /**
   * Some channels accept `publish` from clients.
   */
  client_publish: boolean;
  /**
   * Some channels keep history and support `subscribe.since` recovery.
   */
  history: boolean;
  /**
   * `GET /api/ws/channels/{channel}/history` is served; absent (false)
   * on servers that predate it.
   */
  history_read?: boolean;
  /**
   * The server shares a broker with other nodes.
   */
  multi_node: boolean;
  /**
   * Some channels keep presence: `subscribe.presence`, `join` and
   * `leave`, and `GET /api/ws/channels/{channel}/presence`.
   */
  presence?: boolean;
  /**
   * History channels support `subscribe.rewind` (docs/protocol.md,
   * "Rewind"); absent (false) on servers that predate it.
   */
  rewind?: boolean;
}
/**
 * History settings.
 */
export interface HistoryInfo {
  /**
   * Channel names or patterns that keep history.
   */
  channels: string[];
  /**
   * Whether any channel keeps history.
   */
  enabled: boolean;
  /**
   * The largest `subscribe.rewind` accepted: the history size, or half
   * the connection's outbound queue when that is smaller (a replay must
   * fit it); absent (0) on servers that predate rewind. The history
   * read's `limit` goes up to `size`.
   */
  max_rewind?: number;
  /**
   * Events kept per channel.
   */
  size: number;
  /**
   * Seconds an event is kept.
   */
  ttl_seconds: number;
}
