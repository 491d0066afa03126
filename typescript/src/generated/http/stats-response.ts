/* Generated from schemas/http/stats-response.json by `npm run generate`. Do not edit. */

/**
 * `GET /api/ws/stats` response.
 */
export interface StatsResponse {
  /**
   * Subscribers per channel.
   */
  channels: {
    [k: string]: number;
  };
  /**
   * Per-node breakdown, when several nodes share a broker.
   */
  nodes?: NodeStats[];
  /**
   * Channels with at least one subscriber.
   */
  total_channels: number;
  /**
   * Open WebSocket connections.
   */
  total_connections: number;
  /**
   * Distinct authenticated users with at least one connection.
   */
  total_users: number;
}
/**
 * One node's part of [`StatsResponse`].
 */
export interface NodeStats {
  /**
   * Subscribers per channel on the node.
   */
  channels: {
    [k: string]: number;
  };
  /**
   * The node's id.
   */
  node_id: string;
  /**
   * Open connections on the node.
   */
  total_connections: number;
  /**
   * Distinct users connected to the node.
   */
  total_users: number;
}
