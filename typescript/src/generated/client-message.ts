/* Generated from schemas/client-message.json by `npm run generate`. Do not edit. */

/**
 * A message from a WebSocket client to the server.
 */
export type ClientMessage =
  | {
      /**
       * The channel to subscribe to.
       */
      channel: string;
      /**
       * Ask for the channel's `join` and `leave` messages (docs/protocol.md,
       * "Presence"): honoured on channels with presence enabled, which
       * `subscribed.presence` confirms. The subscriber's own join is not
       * sent to it.
       */
      presence?: boolean;
      /**
       * Replay the channel's last `rewind` retained events before live
       * ones (docs/protocol.md, "Rewind"): at most the server's
       * `history.max_rewind` (`GET /api/ws/info`), and not with `since`.
       */
      rewind?: number | null;
      /**
       * The last position seen, for recovery after a reconnect.
       */
      since?: StreamPosition | null;
      type: "subscribe";
    }
  | {
      /**
       * The channel to leave.
       */
      channel: string;
      type: "unsubscribe";
    }
  | {
      type: "pong";
    }
  | {
      type: "ping";
    }
  | {
      /**
       * The channel to publish on.
       */
      channel: string;
      /**
       * The event payload.
       */
      data?: unknown;
      /**
       * The event type subscribers receive.
       */
      event: string;
      type: "publish";
    };

/**
 * A position in a channel's history: the last event a client saw there
 * (docs/protocol.md, "History and recovery").
 *
 * `epoch` names one incarnation of the channel's history; when the history is
 * lost (a restart of an in-memory node, a flushed Redis) the epoch changes and
 * offsets from the old epoch mean nothing.
 */
export interface StreamPosition {
  /**
   * The history incarnation the offset belongs to.
   */
  epoch: string;
  /**
   * The offset of the last event seen.
   */
  offset: number;
}
