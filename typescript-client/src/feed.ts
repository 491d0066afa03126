// The last `limit` events of a channel plus its subscription state, as an
// immutable snapshot for UI bindings (React's useSyncExternalStore, Vue's
// shallowRef). Events go into a ring buffer (memory stays at `limit` events,
// nothing is copied per event); snapshots are rebuilt at most once per
// animation frame, and on a busy channel at most every `minIntervalMs`
// (default 100): at thousands of events per second a render per event would
// starve the main thread, and even one per frame of a 100-row table costs
// more than the events themselves (docs/benchmarks.md).

import type { EventEnvelope } from "@brain/ws-protocol";
import type { BrainWsClient } from "./client.js";
import type { Off } from "./emitter.js";
import { BrainWsError } from "./errors.js";
import type { Subscription } from "./subscription.js";
import type { SubscribedInfo, SubscriptionStatus } from "./types.js";

/** What `useChannel` returns. */
export interface ChannelSnapshot {
  /** The last `limit` events, oldest first, newest last. */
  readonly events: readonly EventEnvelope[];
  /** The subscription's status (`pending` while disconnected). */
  readonly status: SubscriptionStatus;
  /** The last `subscribed` answer (recovery, epoch change), once there was one. */
  readonly subscribed: SubscribedInfo | undefined;
  /**
   * Why the server refused the subscription, while `status` is `failed`; or
   * why `rewind` was not done (kind `invalid`: another handle of the client
   * held the channel first), while the feed shows live events only.
   */
  readonly error: BrainWsError | undefined;
  /** How many events arrived since the feed started (also those no longer in `events`). */
  readonly received: number;
}

/** Options of {@link ChannelFeed} and `useChannel`. */
export interface FeedOptions {
  /** How many of the latest events to keep (default 100, at least 1). */
  limit?: number;
  /**
   * The shortest time between two snapshots, in milliseconds (default
   * {@link DEFAULT_MIN_INTERVAL_MS}, 100; 0: one per animation frame). The
   * first change after a quiet period shows at the next animation frame; a
   * busy channel re-renders at most every `minIntervalMs`, each snapshot with
   * every event that arrived meanwhile (up to `limit`).
   */
  minIntervalMs?: number;
  /**
   * Start with the channel's last `rewind` retained events (docs/protocol.md,
   * Rewind), e.g. `rewind: limit` for a dashboard that opens mid-stream.
   * Only for the client's first subscription of the channel (see
   * `client.subscribe`): on a channel the client already holds, the feed
   * subscribes without it and reports the `invalid` error in `error`
   * instead of throwing from a render or an effect.
   */
  rewind?: number;
}

/** The default `minIntervalMs`: a busy channel re-renders at most 10 times a second. */
export const DEFAULT_MIN_INTERVAL_MS = 100;

type Scheduler = (flush: () => void) => void;

const nextFrame: Scheduler = (flush) => {
  const raf = (globalThis as { requestAnimationFrame?: (cb: () => void) => number }).requestAnimationFrame;
  if (raf) raf(flush);
  else setTimeout(flush, 16);
};

/** The store behind `useChannel`; framework-free. `start()`/`stop()` may alternate (React StrictMode). */
export class ChannelFeed {
  readonly limit: number;
  private readonly ring: (EventEnvelope | undefined)[];
  private head = 0; // index of the oldest event
  private count = 0;
  private received = 0;
  private sub: Subscription | undefined;
  private offs: Off[] = [];
  private readonly watchers = new Set<() => void>();
  private snapshot: ChannelSnapshot;
  private scheduled = false;
  private readonly minIntervalMs: number;
  private lastFlush = -Infinity;
  private readonly rewind: number | undefined;
  private rewindRefused: BrainWsError | undefined;

  constructor(
    private readonly client: BrainWsClient,
    readonly channel: string,
    options: FeedOptions = {},
    private readonly schedule: Scheduler = nextFrame,
  ) {
    this.limit = Math.max(1, Math.floor(options.limit ?? 100));
    this.minIntervalMs = Math.max(0, options.minIntervalMs ?? DEFAULT_MIN_INTERVAL_MS);
    this.rewind = options.rewind;
    this.ring = new Array<EventEnvelope | undefined>(this.limit);
    this.snapshot = this.build();
  }

  /** Subscribes (again); a no-op while started. */
  start(): void {
    if (this.sub) return;
    // Only the first start rewinds: a restart (React StrictMode) resumes
    // the subscription that already replayed.
    const rewind = this.received === 0 && this.rewind !== undefined;
    let sub: Subscription;
    try {
      sub = this.client.subscribe(this.channel, rewind ? { rewind: this.rewind } : {});
      this.rewindRefused = undefined;
    } catch (error) {
      // Another handle (a second useChannel on the channel) came first: the
      // client refuses a rewind its replay would repeat to that handle. A
      // throw here would unmount the whole React tree; live events instead.
      if (!rewind || !(error instanceof BrainWsError) || error.kind !== "invalid") throw error;
      sub = this.client.subscribe(this.channel);
      this.rewindRefused = error;
    }
    this.sub = sub;
    this.offs = [
      sub.on("event", (event) => this.push(event)),
      sub.on("subscribed", () => this.changed()),
      sub.on("error", () => this.changed()),
      this.client.on("state", () => this.changed()),
    ];
    this.changed();
  }

  /** Releases the subscription; the events kept so far stay. */
  stop(): void {
    for (const off of this.offs) off();
    this.offs = [];
    this.sub?.unsubscribe();
    this.sub = undefined;
  }

  /** Calls `watcher` after each new snapshot; returns what removes it. */
  readonly watch = (watcher: () => void): Off => {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  };

  /** The current snapshot; the same object until something changed. */
  readonly getSnapshot = (): ChannelSnapshot => this.snapshot;

  private push(event: EventEnvelope): void {
    this.received++;
    if (this.count < this.limit) {
      this.ring[(this.head + this.count) % this.limit] = event;
      this.count++;
    } else {
      this.ring[this.head] = event;
      this.head = (this.head + 1) % this.limit;
    }
    this.changed();
  }

  private changed(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const flush = () => {
      this.scheduled = false;
      this.lastFlush = Date.now();
      this.snapshot = this.build();
      for (const w of [...this.watchers]) w();
    };
    const wait = this.lastFlush + this.minIntervalMs - Date.now();
    if (wait > 0) setTimeout(() => this.schedule(flush), wait);
    else this.schedule(flush);
  }

  private build(): ChannelSnapshot {
    const events: EventEnvelope[] = new Array(this.count);
    for (let i = 0; i < this.count; i++) events[i] = this.ring[(this.head + i) % this.limit]!;
    const sub = this.sub;
    return {
      events,
      status: sub ? sub.status : "pending",
      subscribed: sub?.lastSubscribed,
      error: sub?.error ?? this.rewindRefused,
      received: this.received,
    };
  }
}
