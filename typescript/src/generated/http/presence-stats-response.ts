/* Generated from schemas/http/presence-stats-response.json by `npm run generate`. Do not edit. */

/**
 * `GET /api/ws/channels/{channel}/presence/stats` response: counts kept as
 * subscribers join and leave, so reading them costs the same for 10 or
 * 100,000 subscribers.
 */
export interface PresenceStatsResponse {
  /**
   * The channel asked about.
   */
  channel: string;
  /**
   * Subscribed connections, across the cluster.
   */
  connections: number;
  /**
   * Distinct authenticated users among them (a user connected to two
   * nodes counts once; anonymous connections count in none).
   */
  users: number;
}
