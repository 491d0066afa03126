// The typed view of the event catalogue: which event types a channel has and
// what `data` each carries, from @brain/ws-protocol's generated types.

import type { CatalogueEvent, EventEnvelope, EVENT_CATALOGUE, StandardChannel } from "@brain/ws-protocol";

/** Every event type of the catalogue (`mission_created`, `agent_heartbeat`, ...). */
export type CatalogueType = CatalogueEvent["type"];

/**
 * The catalogue event types of channel `C`: its own on a standard channel
 * (`missions` → `mission_created` | ...), every catalogue type on any other.
 */
export type ChannelEventType<C extends string> = C extends StandardChannel
  ? (typeof EVENT_CATALOGUE)[C][number]
  : CatalogueType;

/** An envelope whose `type` and `data` are those of catalogue event `T`. */
export type TypedEvent<T extends CatalogueType> = Omit<EventEnvelope, "type" | "data"> &
  Extract<CatalogueEvent, { type: T }>;

/** A channel's position: the epoch of its history and the offset of the last event seen. */
export interface Position {
  /** The history's incarnation (opaque); a new epoch means offsets started over. */
  epoch: string;
  /** The offset of the last event seen (or the channel's latest when subscribed). */
  offset: number;
}

/**
 * What a `subscribed` answer told, as reported by `sub.on("subscribed")`
 * (docs/protocol.md, History and recovery).
 */
export interface SubscribedInfo {
  channel: string;
  /** The channel's epoch; `undefined` on a channel without history (or while the server's Redis is down). */
  epoch: string | undefined;
  /** The channel's latest offset when subscribed; `undefined` like `epoch`. */
  offset: number | undefined;
  /**
   * `true`: the events missed while disconnected follow, once, in order.
   * `false`: events may have been lost (the history no longer reaches back,
   * or the stream restarted: see `epochChanged`); reload the state. Also
   * sent by the server unasked on a live subscription when its stream
   * restarts or has a gap it cannot fill (docs/protocol.md, Stream restarts):
   * the position moves to the answer's `epoch`/`offset` and later events
   * follow.
   * `null`: no recovery was asked: the first subscribe, or a renewal of a
   * channel without history, whose events while disconnected are lost.
   */
  recovered: boolean | null;
  /**
   * For a subscribe with `rewind`: how many of the channel's latest events
   * the server replays before live ones (docs/protocol.md, Rewind); `null`
   * otherwise.
   */
  replayed: number | null;
  /** Whether this renews a subscription after a reconnect (or reports a stream restart), not the first answer. */
  renewed: boolean;
  /**
   * Whether the channel's epoch differs from the one the client had: the
   * stream restarted (a node without Redis restarted, Redis lost its data),
   * its offsets started over, and nothing before it can be recovered. Never
   * treated as duplicates.
   */
  epochChanged: boolean;
  /** The epoch the client had before, when it had one. */
  previousEpoch: string | undefined;
  /**
   * With `{ presence: true }`: whether `join` and `leave` follow (`false`: the
   * channel keeps no presence). `undefined` when no presence was asked.
   */
  presence?: boolean | undefined;
}

/**
 * A subscription's status: `pending` until the server answers (and while
 * disconnected), `subscribed`, `failed` (the server refused it: see
 * `sub.error`; retried on the next reconnect or `subscribe`), `unsubscribed`
 * (after `unsubscribe()` or `client.close()`).
 */
export type SubscriptionStatus = "pending" | "subscribed" | "failed" | "unsubscribed";
