/* Generated from schemas/http/broadcast-response.json by `npm run generate`. Do not edit. */

/**
 * `POST /api/ws/broadcast` response.
 */
export interface BroadcastResponse {
  /**
   * The channel published on.
   */
  channel: string;
  /**
   * Always `broadcasted`.
   */
  status: "broadcasted" | "duplicate";
  /**
   * How many subscribers the channel had (cluster-wide) when published.
   */
  subscribers: number;
}
