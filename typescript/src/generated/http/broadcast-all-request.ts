/* Generated from schemas/http/broadcast-all-request.json by `npm run generate`. Do not edit. */

/**
 * `POST /api/ws/broadcast/all` request: an event to every connection.
 */
export interface BroadcastAllRequest {
  /**
   * The event payload.
   */
  data?: unknown;
  /**
   * The event type.
   */
  type: string;
}
