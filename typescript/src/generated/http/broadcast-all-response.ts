/* Generated from schemas/http/broadcast-all-response.json by `npm run generate`. Do not edit. */

/**
 * `POST /api/ws/broadcast/all` response.
 */
export interface BroadcastAllResponse {
  /**
   * Always `broadcasted`.
   */
  status: "broadcasted" | "duplicate";
  /**
   * How many connections there were (cluster-wide) when published.
   */
  total_connections: number;
}
