/* Generated from schemas/http/presence-response.json by `npm run generate`. Do not edit. */

/**
 * `GET /api/ws/channels/{channel}/presence` response: every subscriber of
 * a presence channel, across the cluster.
 */
export interface PresenceResponse {
  /**
   * The channel asked about.
   */
  channel: string;
  /**
   * Its subscribers, oldest join first.
   */
  members: PresenceInfo[];
}
/**
 * One subscriber of a presence channel (docs/protocol.md, "Presence"): in
 * `join` and `leave` messages and in `GET /api/ws/channels/{channel}/presence`.
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
