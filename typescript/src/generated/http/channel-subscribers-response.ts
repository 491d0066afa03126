/* Generated from schemas/http/channel-subscribers-response.json by `npm run generate`. Do not edit. */

/**
 * `GET /api/ws/channels/{channel}` response.
 */
export interface ChannelSubscribersResponse {
  /**
   * The channel asked about.
   */
  channel: string;
  /**
   * The subscribed connections' ids.
   */
  connection_ids: string[];
  /**
   * Its subscriber count.
   */
  subscribers: number;
}
