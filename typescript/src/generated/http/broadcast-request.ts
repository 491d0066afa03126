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
   * A key chosen by the publisher (1 to 128 bytes of UTF-8), the same on
   * every retry of one event: within the idempotency window (10 minutes)
   * of a publication with the same key, on any node of the cluster, the
   * event is not delivered again and the answer's status is `duplicate`.
   * The limit is in bytes (`x-max-bytes`); `maxLength` counts
   * characters, so a key of 128 characters or fewer that takes more than
   * 128 bytes is still refused (`422 invalid_body`).
   */
  idempotency_key?: string | null;
  /**
   * The event payload; subscribers receive it as the envelope's `data`.
   */
  message: unknown;
  /**
   * The event type; `"broadcast"` when absent.
   */
  type?: EventType | null;
}
