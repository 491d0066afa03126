/* Generated from schemas/http/broadcast-request.json by `npm run generate`. Do not edit. */

/**
 * An event type: 1 to 64 ASCII letters, digits and _ . : -, not a reserved protocol type
 */
export type EventType = string;

/**
 * `POST /api/ws/broadcast` request: publish `message` on `channel`.
 */
export interface BroadcastRequest {
  /**
   * The channel to publish on.
   */
  channel: string;
  /**
   * The event payload; subscribers receive it as the envelope's `data`.
   */
  message: unknown;
  /**
   * The event type; `"broadcast"` when absent.
   */
  type?: EventType | null;
}
