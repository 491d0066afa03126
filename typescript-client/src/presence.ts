// The members of a presence channel as an immutable snapshot for UI
// bindings (React's usePresence, Vue's usePresence): read once with
// `client.presence(channel)` after each `subscribed` (first subscribe and
// every renewal after a reconnect), then kept current with the `join` and
// `leave` of a `{ presence: true }` subscription. Events that arrive while
// a read is in flight are applied on top of its answer, so none is lost.

import type { PresenceInfo } from "@brain/ws-protocol";
import type { BrainWsClient, PresenceReadOptions } from "./client.js";
import type { Off } from "./emitter.js";
import { BrainWsError } from "./errors.js";
import type { Subscription } from "./subscription.js";

/** What `usePresence` returns. */
export interface PresenceSnapshot {
  /** The channel's members, oldest join first. */
  readonly members: readonly PresenceInfo[];
  /** Whether the first read has answered. */
  readonly loaded: boolean;
  /** Why the last read failed (e.g. `presence_disabled`, or `forbidden` without an API key). */
  readonly error: BrainWsError | undefined;
}

type Change = { kind: "join" | "leave"; info: PresenceInfo };

/** Keeps one channel's members; `start()` subscribes, `stop()` releases. */
export class PresenceFeed {
  private sub: Subscription | undefined;
  private offs: Off[] = [];
  private members = new Map<string, PresenceInfo>();
  private snapshot: PresenceSnapshot = { members: [], loaded: false, error: undefined };
  private readonly watchers = new Set<() => void>();
  /** Changes seen while a read is in flight (`undefined`: none in flight). */
  private pending: Change[] | undefined;
  private generation = 0;

  constructor(
    private readonly client: BrainWsClient,
    readonly channel: string,
    private readonly options: PresenceReadOptions = {},
  ) {}

  start(): void {
    if (this.sub) return;
    const sub = (this.sub = this.client.subscribe(this.channel, { presence: true }));
    this.offs = [
      sub.on("join", (info) => this.change({ kind: "join", info })),
      sub.on("leave", (info) => this.change({ kind: "leave", info })),
      sub.on("subscribed", () => void this.read()),
    ];
    if (sub.status === "subscribed") void this.read();
  }

  stop(): void {
    this.generation++;
    for (const off of this.offs) off();
    this.offs = [];
    this.sub?.unsubscribe();
    this.sub = undefined;
  }

  /** Calls `fn` after every change; returns the way to stop. */
  readonly watch = (fn: () => void): (() => void) => {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  };

  readonly getSnapshot = (): PresenceSnapshot => this.snapshot;

  private change(change: Change): void {
    if (this.pending) this.pending.push(change);
    this.apply(change);
    this.publish({});
  }

  private apply({ kind, info }: Change): void {
    if (kind === "join") this.members.set(info.connection_id, info);
    else this.members.delete(info.connection_id);
  }

  private async read(): Promise<void> {
    const generation = ++this.generation;
    this.pending = [];
    try {
      const answer = await this.client.presence(this.channel, this.options);
      if (generation !== this.generation) return;
      this.members = new Map(answer.members.map((m) => [m.connection_id, m]));
      for (const change of this.pending) this.apply(change);
      this.pending = undefined;
      this.publish({ loaded: true, error: undefined });
    } catch (cause) {
      if (generation !== this.generation) return;
      this.pending = undefined;
      const error = cause instanceof BrainWsError ? cause : new BrainWsError("server", String(cause), { channel: this.channel });
      this.publish({ loaded: true, error });
    }
  }

  private publish(patch: Partial<PresenceSnapshot>): void {
    const members = [...this.members.values()].sort(
      (a, b) => a.joined_at - b.joined_at || a.connection_id.localeCompare(b.connection_id),
    );
    this.snapshot = { ...this.snapshot, ...patch, members };
    for (const fn of this.watchers) fn();
  }
}
