/* Generated from schemas/http/history-response.json by `npm run generate`. Do not edit. */

/**
 * A channel name: 1 to 128 ASCII letters, digits and _ . : @ -
 */
export type ChannelName = string;

/**
 * `GET /api/ws/channels/{channel}/history` response (docs/protocol.md,
 * "GET /api/ws/channels/{channel}/history"): retained events of a history channel, oldest
 * first, newest last.
 */
export interface HistoryResponse {
  /**
   * A channel name: 1 to 128 ASCII letters, digits and _ . : @ -
   */
  channel: string;
  /**
   * True when no event between the requested start and the first one
   * returned was lost: `since` is in this epoch and the history still
   * reaches back to it, or (without `since`) the history holds the
   * latest `limit` events or every event of the epoch. False: the
   * reader missed events it cannot get back.
   */
  complete: boolean;
  /**
   * The stream's current epoch.
   */
  epoch: string;
  /**
   * The events, each an event envelope with its `offset`, oldest first.
   * Without `since`: the latest `limit`. With `since`: the first `limit`
   * after it (or the oldest retained when `since` is outside the
   * retained window).
   */
  events: EventEnvelope[];
  /**
   * The offset of the channel's latest event (0 before the first): the
   * `offset` a subscriber would be answered with now.
   */
  offset: number;
}
/**
 * Event Broadcasting: an event as subscribers receive it.
 *
 * Channel broadcasts carry `channel`; messages sent to one user and
 * broadcasts to every connection do not. `offset` is present on channels
 * that keep history.
 */
export interface EventEnvelope {
  /**
   * The channel the event was published on.
   */
  channel?: ChannelName | null;
  /**
   * The event payload.
   */
  data: unknown;
  /**
   * The event's position in the channel history.
   */
  offset?: number | null;
  /**
   * Seconds since the Unix epoch, when the event was published.
   */
  timestamp: number;
  /**
   * The event type, never one of the reserved control types.
   */
  type: string;
}
