// A handle on one channel subscription: listeners by event type, lifecycle
// reports, and an async iterator with a bounded buffer. Several handles on
// the same channel share one subscription on the wire (client.ts counts
// them); each handle only owns its listeners.

import type { EventEnvelope, PresenceInfo } from "@brain/ws-protocol";
import { BrainWsError } from "./errors.js";
import { Listeners, type Off } from "./emitter.js";
import type { ChannelEventType, Position, SubscribedInfo, SubscriptionStatus, TypedEvent } from "./types.js";

/** What a handle reads from the channel state the client keeps. */
export interface ChannelView {
  readonly status: "pending" | "subscribed" | "failed";
  readonly position: Position | undefined;
  readonly lastSubscribed: SubscribedInfo | undefined;
  readonly error: BrainWsError | undefined;
}

/** An event queue for one async iterator: bounded, fails loudly when full. */
class EventQueue implements AsyncIterator<EventEnvelope> {
  private readonly buffer: EventEnvelope[] = [];
  private waiter: { resolve: (r: IteratorResult<EventEnvelope>) => void; reject: (e: unknown) => void } | undefined;
  private done = false;
  private error: BrainWsError | undefined;

  constructor(
    private readonly capacity: number,
    private readonly channel: string,
    private readonly detach: (q: EventQueue) => void,
  ) {}

  push(event: EventEnvelope): void {
    if (this.done) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve({ value: event, done: false });
    } else if (this.buffer.length >= this.capacity) {
      this.fail(
        new BrainWsError(
          "overflow",
          `the async iterator of "${this.channel}" holds ${this.capacity} unread events; consume faster or raise iteratorBufferSize`,
          { channel: this.channel },
        ),
      );
    } else {
      this.buffer.push(event);
    }
  }

  /** Ends the iteration after the buffered events. */
  end(): void {
    this.done = true;
    this.detach(this);
    if (this.waiter && this.buffer.length === 0) {
      this.waiter.resolve({ value: undefined, done: true });
      this.waiter = undefined;
    }
  }

  /** Ends the iteration with `error`, thrown after the buffered events. */
  fail(error: BrainWsError): void {
    this.error = error;
    this.end();
    if (this.waiter) {
      this.waiter.reject(error);
      this.waiter = undefined;
    }
  }

  next(): Promise<IteratorResult<EventEnvelope>> {
    const event = this.buffer.shift();
    if (event !== undefined) return Promise.resolve({ value: event, done: false });
    if (this.error) {
      const error = this.error;
      this.error = undefined;
      return Promise.reject(error);
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<EventEnvelope>> {
    this.buffer.length = 0;
    this.error = undefined;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }
}

/**
 * A subscription to one channel, made by `client.subscribe(channel)`. It
 * lives until `unsubscribe()` (or `client.close()`): after every reconnect
 * the client renews it, with `since` where the channel has history.
 *
 * Events: `on("event", fn)` gets every event of the channel, including types
 * outside the catalogue; `on("mission_completed", fn)` gets one type, with
 * `data` typed from the catalogue. Lifecycle: `on("subscribed", fn)` after
 * each answer (see {@link SubscribedInfo}: recovery and epoch changes),
 * `on("error", fn)` when the server refuses the subscription. It is also an
 * async iterable of its events (`for await (const e of sub)`), each iterator
 * with a bounded buffer (`iteratorBufferSize`, default 1024) that fails with
 * a `BrainWsError` of kind `overflow` rather than drop events.
 *
 * Presence: a handle made with `client.subscribe(channel, { presence: true })`
 * also gets `on("join", fn)` and `on("leave", fn)` with the other members'
 * {@link PresenceInfo} (docs/protocol.md, Presence); its own join is not
 * reported. On a channel without presence none comes (`lastSubscribed.presence`
 * is `false`).
 */
export class Subscription<C extends string = string> implements AsyncIterable<EventEnvelope> {
  private readonly listeners = new Listeners();
  private readonly queues = new Set<EventQueue>();
  private active = true;

  /** Made by `client.subscribe()`; not meant to be called by applications. */
  constructor(
    /** The channel name. */
    readonly channel: C,
    private readonly view: ChannelView,
    private readonly release: () => void,
    private readonly iteratorBufferSize: number,
    /** Whether this handle receives `join` and `leave`. */
    readonly presence: boolean = false,
  ) {}

  /** The subscription's status (see {@link SubscriptionStatus}). */
  get status(): SubscriptionStatus {
    return this.active ? this.view.status : "unsubscribed";
  }

  /** The last position seen on the channel (`undefined` on a channel without history). */
  get position(): Position | undefined {
    const p = this.view.position;
    return p && { ...p };
  }

  /** What the last `subscribed` answer said, once there was one. */
  get lastSubscribed(): SubscribedInfo | undefined {
    return this.view.lastSubscribed;
  }

  /** Why the server refused the subscription, while `status` is `failed`. */
  get error(): BrainWsError | undefined {
    return this.view.error;
  }

  /** Every event of the channel, including types outside the catalogue. */
  on(name: "event", fn: (event: EventEnvelope) => void): Off;
  /** After each `subscribed` answer: first subscribe, renewal, recovery, epoch change. */
  on(name: "subscribed", fn: (info: SubscribedInfo) => void): Off;
  /** When the server refuses the subscription (`kind` `server`, `code` e.g. `forbidden`). */
  on(name: "error", fn: (error: BrainWsError) => void): Off;
  /** After `unsubscribe()` or `client.close()`. */
  on(name: "unsubscribed", fn: () => void): Off;
  /** Presence (with `{ presence: true }`): another connection subscribed to the channel. */
  on(name: "join" | "leave", fn: (info: PresenceInfo) => void): Off;
  /** Events of one catalogue type, `data` typed. */
  on<T extends ChannelEventType<C>>(type: T, fn: (event: TypedEvent<T>) => void): Off;
  on(name: string, fn: (arg: never) => void): Off {
    return this.listeners.on(name, fn);
  }

  /** Ends this handle; the wire subscription ends when no handle on the channel is left. Idempotent. */
  unsubscribe(): void {
    if (!this.active) return;
    this._end();
    this.release();
  }

  [Symbol.asyncIterator](): AsyncIterator<EventEnvelope> {
    const queue = new EventQueue(this.iteratorBufferSize, this.channel, (q) => this.queues.delete(q));
    if (this.active) this.queues.add(queue);
    else queue.end();
    return queue;
  }

  /** @internal An event of the channel. */
  _deliver(event: EventEnvelope): void {
    if (!this.active) return;
    this.listeners.emit("event", event);
    if (event.type !== "event") this.listeners.emit(event.type, event);
    for (const q of this.queues) q.push(event);
  }

  /** @internal A `join` or `leave` of the channel. */
  _presence(kind: "join" | "leave", info: PresenceInfo): void {
    if (this.active && this.presence) this.listeners.emit(kind, info);
  }

  /** @internal A `subscribed` answer. */
  _subscribed(info: SubscribedInfo): void {
    if (this.active) this.listeners.emit("subscribed", info);
  }

  /** @internal The server refused the subscription. */
  _failed(error: BrainWsError): void {
    if (this.active) this.listeners.emit("error", error);
  }

  /** @internal Ends the handle without telling the client (client.close()). */
  _end(): void {
    if (!this.active) return;
    this.active = false;
    for (const q of [...this.queues]) q.end();
    this.listeners.emit("unsubscribed");
    this.listeners.clear();
  }
}
