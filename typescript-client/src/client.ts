// The connection: one WebSocket at a time, reconnected with backoff by the
// protocol's close-code rule, with the channel subscriptions it renews after
// every reconnect (with `since` for recovery). docs/protocol.md is the
// contract; docs/clients.md says how the pieces behave.

import {
  CHANNEL_NAME_PATTERN,
  CLOSE_CODE_TABLE,
  CLOSE_CODES,
  EVENT_TYPE_PATTERN,
  RESERVED_TYPES,
  isControl,
  shouldReconnect,
  type ClientMessage,
  type Connected,
  type ErrorMessage,
  type EventEnvelope,
  type PresenceResponse,
  type PresenceStatsResponse,
  type ServerMessage,
  type Subscribed,
} from "@brain/ws-protocol";
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from "./backoff.js";
import { Listeners, type Off } from "./emitter.js";
import { BrainWsError } from "./errors.js";
import { adminRead, globalFetch, type ErrorBody, type FetchLike } from "./http.js";
import { Subscription, type ChannelView } from "./subscription.js";
import type { Position, SubscribedInfo } from "./types.js";

/**
 * The part of the WebSocket API the client uses: the browser's `WebSocket`,
 * Node 22's global one and the `ws` package's all fit.
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** `ws` only: drops the TCP connection without a closing handshake. */
  terminate?: () => void;
  // Event parameters are `any`: the DOM's and `ws`'s event types differ, and
  // the client reads only `data`, `code` and `reason`.
  /* eslint-disable @typescript-eslint/no-explicit-any */
  onopen: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
  /* eslint-enable @typescript-eslint/no-explicit-any */
}

/** A `WebSocket` constructor: `globalThis.WebSocket`, or `ws`'s default export. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** Where the client's diagnostics go; nothing is logged without one. */
export interface Logger {
  debug?(message: string, ...details: unknown[]): void;
  info?(message: string, ...details: unknown[]): void;
  warn?(message: string, ...details: unknown[]): void;
  error?(message: string, ...details: unknown[]): void;
}

/** The connection's state. */
export type ConnectionState = "connecting" | "connected" | "reconnecting" | "closed";

/** What `client.on("state", fn)` gets with each change. */
export interface StateChange {
  state: ConnectionState;
  /** `reconnecting`: the attempt about to be made (1 for the first retry). */
  attempt?: number;
  /** `reconnecting`: how long the client waits before it, in milliseconds. */
  delayMs?: number;
  /**
   * `reconnecting` and `closed`: the close code that ended the last
   * connection or attempt, as observed: 1006 when it dropped without a close
   * frame (also a refused connection), 4000 when the client found the server
   * silent for heartbeat interval + grace, 4004 when the server did not send
   * `connected` within `connectTimeoutMs`.
   */
  code?: number;
  /** The close reason, when there was one. */
  reason?: string;
  /** `closed`: why, unless `close()` was called. */
  error?: BrainWsError;
}

/** Options of {@link createClient}. */
/** How to subscribe (`client.subscribe(channel, options)`). */
export interface SubscribeOptions {
  /**
   * Ask for the channel's `join` and `leave` (`"presence": true` in
   * `subscribe`): this handle's `on("join" | "leave")` then fires for the
   * other members. On a channel without presence none comes.
   */
  presence?: boolean;
}

/** Options of the presence reads (`client.presence`, `client.presenceStats`). */
export interface PresenceReadOptions {
  /** An admin API key, sent as `Authorization: Bearer` (without one, the server answers loopback peers only). */
  apiKey?: string;
}

export interface ClientOptions {
  /**
   * The server: `ws://host:port` (or `wss://`) connects to `/ws/connect`; a
   * URL with a path is used as it is.
   */
  url: string;
  /** A token sent as `?token=` on every connection (docs/protocol.md, Authentication). */
  token?: string;
  /**
   * Ask the server for batched frames (`?batch=1`, docs/protocol.md, Batched
   * frames): messages queued together arrive as one frame, which costs a
   * browser tab far less than one frame each at thousands of events per
   * second. Default `true`; the client reads one-message frames either way.
   */
  batch?: boolean;
  /**
   * Asked for a token before every connection attempt (it wins over
   * `token`), so a reconnect after 4002 (`token_expired`) uses a fresh one.
   * `null`/`undefined` connects without a token. A throw or rejection fails
   * that attempt (retried with backoff) and is reported as a `token` error.
   */
  getToken?: () => string | null | undefined | Promise<string | null | undefined>;
  /** The WebSocket constructor; defaults to `globalThis.WebSocket` (browsers, Node 22+). On Node 20 pass `ws`'s. */
  WebSocket?: WebSocketConstructor;
  /** The reconnect backoff (defaults: 500 ms initial, 30 s max, factor 2, full jitter, reset after 10 s connected). */
  backoff?: BackoffOptions;
  /** How long past the server's `heartbeat_interval` a silent server is still trusted, in milliseconds (default 10 000). */
  heartbeatGraceMs?: number;
  /** How long an attempt may take until the server's `connected`, in milliseconds (default 10 000). */
  connectTimeoutMs?: number;
  /** The buffer of each subscription's async iterator, in events (default 1024). */
  iteratorBufferSize?: number;
  /** How many `publish` calls are held while disconnected (default 256); one more throws `overflow`. */
  publishQueueSize?: number;
  /** Diagnostics; nothing is logged without one. */
  logger?: Logger;
  /**
   * The `fetch` the client's HTTP reads use (defaults to `globalThis.fetch`):
   * learning why an attempt failed before the socket opened (without one the
   * client cannot tell a refused upgrade from an unreachable server and
   * keeps retrying; see {@link BrainWsClient}), and `presence` /
   * `presenceStats`.
   */
  fetch?: FetchLike;
}

/** The client's defaults, those of the Rust SDK (client-sdk/src/options.rs). */
export const DEFAULTS = {
  backoff: DEFAULT_BACKOFF,
  heartbeatGraceMs: 10_000,
  connectTimeoutMs: 10_000,
  iteratorBufferSize: 1024,
  publishQueueSize: 256,
} as const;

/** Server errors that answer a `subscribe` (and so fail the subscription). */
const SUBSCRIBE_ERRORS: ReadonlySet<string> = new Set(["forbidden", "subscription_limit", "invalid_channel", "invalid_message"]);
const RESERVED: ReadonlySet<string> = new Set(RESERVED_TYPES);

/** What the client calls on a subscription handle. */
type Handle = Pick<Subscription, "_deliver" | "_subscribed" | "_failed" | "_end" | "_presence">;

/** The client's state of one channel, shared by every handle on it. */
class Channel implements ChannelView {
  status: "pending" | "subscribed" | "failed" = "pending";
  position: Position | undefined;
  lastSubscribed: SubscribedInfo | undefined;
  error: BrainWsError | undefined;
  readonly subs = new Set<Handle>();
  /** A `subscribe` was sent on this connection and its answer is due. */
  outstanding = false;
  /** `subscribe` asks for presence: a handle wants `join`/`leave`. */
  presence = false;
  /** The `since` of the outstanding subscribe (`null`: none was sent). */
  sentSince: Position | null = null;
  /** Whether the server answered this channel before (the next answer is a renewal). */
  answered = false;
  /** Set when the last handle went: the wire unsubscribe waits one task, so a remount (React StrictMode) keeps it. */
  linger: ReturnType<typeof setTimeout> | undefined;
  /** The `rewind` of the first subscribe, until the server answers it. */
  rewind: number | undefined;

  constructor(readonly name: string) {}
}

/** Options of {@link BrainWsClient.subscribe}. */
export interface SubscribeOptions {
  /**
   * Replay the channel's last `rewind` retained events before live ones
   * (docs/protocol.md, Rewind): at most the server's `history.max_rewind`
   * (`GET /api/ws/info`; a larger one fails the subscription with the
   * server's `invalid_message`). Only for a channel's first subscription on
   * this client: on a channel it already holds, `subscribe` throws
   * `invalid` (the replay would reach the existing handles again).
   * `subscribed.replayed` says how many came.
   */
  rewind?: number;
}

function validChannel(channel: unknown): asserts channel is string {
  if (typeof channel !== "string" || !CHANNEL_NAME_PATTERN.test(channel)) {
    throw new BrainWsError(
      "invalid",
      `invalid channel name ${typeof channel === "string" ? JSON.stringify(channel) : `(${channel === null ? "null" : `a value of type ${typeof channel}`})`}: 1 to 128 ASCII letters, digits and _ . : @ - (docs/protocol.md, Channel names)`,
      { channel: typeof channel === "string" ? channel : undefined },
    );
  }
}

/** `ws://host:port` → `ws://host:port/ws/connect`, plus the token and `batch=1`. */
function connectUrl(base: string, token: string | null | undefined, batch = true): string {
  let url: URL;
  try {
    url = new URL(base);
  } catch (cause) {
    throw new BrainWsError("invalid", `invalid server URL ${JSON.stringify(base)}`, { cause });
  }
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new BrainWsError("invalid", `the server URL must be ws:// or wss://, not ${url.protocol}//`);
  }
  if (url.pathname === "" || url.pathname === "/") url.pathname = "/ws/connect";
  if (token) url.searchParams.set("token", token);
  if (batch) url.searchParams.set("batch", "1");
  return url.toString();
}

/**
 * A connection to a BRAiN WebSocket server; made by {@link createClient}.
 *
 * It connects at once and keeps connecting: a dropped connection is retried
 * with exponential backoff and full jitter (also the first one), except
 * after a terminal close code (docs/protocol.md, Close codes), which ends it
 * with a `BrainWsError` of kind `closed` in `client.error`. After every
 * reconnect each live subscription is renewed, with `since` where the
 * channel has history, so missed events arrive once, in order.
 *
 * A refused upgrade (HTTP 401 or 403: bad token, origin not allowed) looks
 * like close 1006 to a browser, the same as an unreachable server. So when
 * a socket fails before it opened, the client fetches the same URL without
 * upgrade headers; the server answers that with the refusal the upgrade got
 * (docs/protocol.md, Errors). On 401/403 the client asks `getToken` once for
 * a fresh token and tries again; refused again, or without `getToken`, it
 * stops with a `BrainWsError` of kind `refused` carrying the server's error
 * code (`unauthorized`, `forbidden`), HTTP status and message.
 */
export class BrainWsClient {
  private readonly listeners = new Listeners();
  private readonly channels = new Map<string, Channel>();
  /** Per channel: answers still due for subscriptions already dropped (skip them). */
  private readonly staleAnswers = new Map<string, number>();
  /** Publishes held while disconnected: their frames, and what `not_sent` reports name. */
  private readonly publishQueue: { channel: string; type: string; frame: string }[] = [];
  private readonly WS: WebSocketConstructor | undefined;
  private ws: WebSocketLike | null = null;
  private state_: ConnectionState = "connecting";
  private error_: BrainWsError | undefined;
  private welcome_: Connected | undefined;
  /** Increases with each attempt; callbacks of older sockets are ignored. */
  private generation = 0;
  /** Attempts since the last connection that lasted `resetAfterMs`. */
  private attempts = 0;
  private connectedAt = 0;
  private lastHeard = 0;
  private heartbeatLimitMs = 0;
  private heartbeatTimer: ReturnType<typeof setTimeout> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** The last attempt was refused with 401/403 and `getToken` was asked again (reset by `connected`). */
  private refusedOnce = false;
  /** Aborts the diagnosis fetch in flight (see `diagnose`) when the client closes. */
  private diagnosis: AbortController | undefined;

  /** Prefer {@link createClient}. Throws `invalid` for a bad URL, `no_websocket` without a WebSocket. */
  constructor(private readonly options: ClientOptions) {
    connectUrl(options.url, undefined); // throws `invalid` now rather than on every attempt
    this.WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!this.WS) {
      throw new BrainWsError(
        "no_websocket",
        "this runtime has no WebSocket: pass one, e.g. createClient({ url, WebSocket }) with `import WebSocket from \"ws\"`",
      );
    }
    // On a microtask, so that listeners attached right after `createClient`
    // (in the same task) see the first state, `connecting`, too.
    queueMicrotask(() => {
      if (this.state_ !== "connecting") return; // closed meanwhile
      this.setState("connecting");
      void this.open();
    });
  }

  /** The connection's state. */
  get state(): ConnectionState {
    return this.state_;
  }

  /** Why the client closed by itself (terminal close code, expired token without `getToken`). */
  get error(): BrainWsError | undefined {
    return this.error_;
  }

  /** The server's `connected` message of the current connection (`connection_id`, `user_id`, `heartbeat_interval`). */
  get welcome(): Connected | undefined {
    return this.welcome_;
  }

  /** Each state change. */
  on(name: "state", fn: (state: ConnectionState, change: StateChange) => void): Off;
  /** Events without a channel: send-to-user and broadcast-to-all. */
  on(name: "event", fn: (event: EventEnvelope) => void): Off;
  /** Server errors not about a subscription (e.g. `publish_not_allowed`, `rate_limited`), and `token` errors. */
  on(name: "error", fn: (error: BrainWsError) => void): Off;
  /** The server's `connected` message, after every (re)connect. */
  on(name: "connected", fn: (welcome: Connected) => void): Off;
  on(name: string, fn: (...args: never[]) => void): Off {
    return this.listeners.on(name, fn);
  }

  /**
   * Subscribes to `channel` (now if connected, else as soon as it is) and
   * keeps the subscription across reconnects. Every handle on one channel
   * shares one subscription on the wire. Throws a `BrainWsError` of kind
   * `invalid` for a bad channel name, `closed_by_client` after `close()`.
   */
  subscribe<C extends string>(channel: C, options: SubscribeOptions = {}): Subscription<C> {
    validChannel(channel);
    const presence = options.presence === true;
    if (this.state_ === "closed") {
      throw new BrainWsError("closed_by_client", "the client is closed", { channel });
    }
    const rewind = options.rewind;
    if (rewind !== undefined && !(Number.isSafeInteger(rewind) && rewind >= 0)) {
      throw new BrainWsError("invalid", `rewind must be a whole number of events, not ${String(rewind)}`, { channel });
    }
    let ch = this.channels.get(channel);
    if (ch && rewind !== undefined && ch.subs.size > 0) {
      throw new BrainWsError(
        "invalid",
        `this client already subscribes to ${channel}: rewind applies to a channel's first subscription only`,
        { channel },
      );
    }
    if (!ch) {
      ch = new Channel(channel);
      ch.presence = presence;
      ch.rewind = rewind;
      this.channels.set(channel, ch);
      if (this.state_ === "connected") this.sendSubscribe(ch);
    } else {
      if (ch.linger !== undefined) clearTimeout(ch.linger);
      ch.linger = undefined;
      // The first handle asking for presence subscribes again with it.
      const upgrade = presence && !ch.presence;
      ch.presence ||= presence;
      if ((ch.status === "failed" || upgrade) && this.state_ === "connected" && !ch.outstanding) this.sendSubscribe(ch);
    }
    const owner = ch;
    const sub: Subscription<C> = new Subscription<C>(
      channel,
      ch,
      () => this.release(owner, sub),
      this.iteratorBufferSize(),
      presence,
    );
    ch.subs.add(sub);
    return sub;
  }

  /**
   * `GET /api/ws/channels/{channel}/presence` on the server of `url` (same
   * host, `http(s)`): every member of a presence channel across the cluster,
   * oldest join first. An admin read: pass `apiKey` unless the server
   * answers loopback peers. Rejects with a `BrainWsError` of kind `server`:
   * the server's `code` and HTTP `status` (`presence_disabled`, 404, on a
   * channel without presence), or `code` `unreachable` without an answer
   * (in a browser also a page of another origin: no CORS on the admin API).
   */
  presence(channel: string, options: PresenceReadOptions = {}): Promise<PresenceResponse> {
    validChannel(channel);
    return this.adminGet(`/api/ws/channels/${channel}/presence`, channel, options) as Promise<PresenceResponse>;
  }

  /** `GET /api/ws/channels/{channel}/presence/stats`: connections and distinct users, as {@link presence}. */
  presenceStats(channel: string, options: PresenceReadOptions = {}): Promise<PresenceStatsResponse> {
    validChannel(channel);
    return this.adminGet(`/api/ws/channels/${channel}/presence/stats`, channel, options) as Promise<PresenceStatsResponse>;
  }

  /** The `fetch` option, else the global one, if any. */
  private fetchFn(): ClientOptions["fetch"] | undefined {
    return this.options.fetch ?? globalFetch();
  }

  private adminGet(path: string, channel: string, options: PresenceReadOptions): Promise<unknown> {
    const base = new URL(this.options.url);
    base.protocol = base.protocol === "wss:" ? "https:" : "http:";
    return adminRead(this.fetchFn(), `${base.origin}${path}`, channel, options.apiKey);
  }

  /**
   * Publishes an event on `channel` as this client (a `publish` message;
   * docs/clients.md, Publishing, says exactly what is guaranteed). The
   * protocol has no success acknowledgement: silence is not proof of
   * delivery. Each refusal of the server (`publish_not_allowed`,
   * `forbidden`, `rate_limited`, `unavailable`) reaches `on("error")` as a
   * `BrainWsError` of kind `server` with its `code` and, when the server
   * named it, `channel`. While disconnected the message is held (up to
   * `publishQueueSize`) and sent, in call order, after the next connect; if
   * the client closes first, each held publish is reported as `not_sent`.
   * Throws `invalid` for a bad channel or event type, `overflow` when the
   * queue is full, `closed_by_client` after `close()`; nothing is sent then.
   */
  publish(channel: string, type: string, data?: unknown): void {
    validChannel(channel);
    if (typeof type !== "string" || !EVENT_TYPE_PATTERN.test(type) || RESERVED.has(type)) {
      throw new BrainWsError(
        "invalid",
        `invalid event type ${JSON.stringify(type)}: 1 to 64 ASCII letters, digits and _ . : -, not a reserved type (docs/protocol.md, Event types)`,
        { channel },
      );
    }
    if (this.state_ === "closed") throw new BrainWsError("closed_by_client", "the client is closed", { channel });
    const frame = JSON.stringify({ type: "publish", channel, event: type, data: data ?? null } satisfies ClientMessage);
    if (this.state_ === "connected" && this.ws) {
      this.ws.send(frame);
      return;
    }
    const cap = this.options.publishQueueSize ?? DEFAULTS.publishQueueSize;
    if (this.publishQueue.length >= cap) {
      throw new BrainWsError("overflow", `${cap} publishes are already waiting for the connection`, { channel });
    }
    this.publishQueue.push({ channel, type, frame });
  }

  /** Closes the connection (code 1000) and ends every subscription; the client does not reconnect. Idempotent. */
  close(): void {
    if (this.state_ === "closed") return;
    this.shutdown(undefined, {});
  }

  // ---- connection ----

  private iteratorBufferSize(): number {
    return this.options.iteratorBufferSize ?? DEFAULTS.iteratorBufferSize;
  }

  /** A method, not a field read: TypeScript would keep a narrowing of `state_` across awaits. */
  private isClosed(): boolean {
    return this.state_ === "closed";
  }

  private log(level: keyof Logger, message: string, ...details: unknown[]): void {
    this.options.logger?.[level]?.(`[brain-ws] ${message}`, ...details);
  }

  private setState(state: ConnectionState, change: Omit<StateChange, "state"> = {}): void {
    this.state_ = state;
    this.listeners.emit("state", state, { state, ...change });
  }

  private async open(): Promise<void> {
    if (this.state_ === "closed") return;
    const generation = ++this.generation;
    let token: string | null | undefined = this.options.token;
    if (this.options.getToken) {
      try {
        token = await this.options.getToken();
      } catch (cause) {
        if (generation !== this.generation || this.isClosed()) return;
        const error = new BrainWsError("token", "getToken failed", { cause });
        this.log("warn", error.message, cause);
        this.listeners.emit("error", error);
        this.retry(1006, "getToken failed");
        return;
      }
      if (generation !== this.generation || this.isClosed()) return;
    }
    let ws: WebSocketLike;
    let url: string;
    try {
      url = connectUrl(this.options.url, token, this.options.batch ?? true);
      ws = new this.WS!(url);
    } catch (cause) {
      this.log("warn", "could not open a WebSocket", cause);
      this.retry(1006, String(cause));
      return;
    }
    this.ws = ws;
    ws.onmessage = (event: { data: unknown }) => {
      if (generation === this.generation) this.onFrame(event.data);
    };
    let opened = false;
    ws.onclose = (event: { code: number; reason: string }) => {
      if (generation !== this.generation) return;
      if (!opened && event.code === 1006) void this.diagnose(generation, url, event.reason);
      else this.onClosed(event.code, event.reason);
    };
    // Without an error listener the `ws` package throws on a refused
    // connection; the close event that follows is what the client acts on.
    ws.onerror = (event: unknown) => this.log("debug", "WebSocket error", event);
    ws.onopen = () => {
      opened = true;
    };
    this.connectTimer = setTimeout(
      () => this.abandon(CLOSE_CODES.handshake_timeout, "no connected message within connectTimeoutMs"),
      this.options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
    );
  }

  /**
   * A socket that failed before it opened: asks the server why with a plain
   * GET of the same URL (see the class comment), then stops on 401/403
   * unless `getToken` may still help, and otherwise retries as for any 1006.
   * Never rejects: a failed fetch means the server is unreachable.
   */
  private async diagnose(generation: number, url: string, reason: string): Promise<void> {
    this.clearTimers();
    this.ws = null;
    const fetchFn = this.fetchFn();
    let refusal: { status: number; code: string; message: string } | undefined;
    if (fetchFn) {
      try {
        const httpUrl = url.replace(/^ws/, "http");
        const controller = (this.diagnosis = new AbortController());
        const timer = setTimeout(() => controller.abort(), this.options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs);
        const res = await fetchFn(httpUrl, { signal: controller.signal, cache: "no-store" }).finally(() => {
          clearTimeout(timer);
          if (this.diagnosis === controller) this.diagnosis = undefined;
        });
        if (res.status === 401 || res.status === 403) {
          const body = (await res.json().catch(() => null)) as ErrorBody | null;
          refusal = {
            status: res.status,
            code: typeof body?.error?.code === "string" ? body.error.code : res.status === 401 ? "unauthorized" : "forbidden",
            message: typeof body?.error?.message === "string" ? body.error.message : `HTTP ${res.status}`,
          };
        }
      } catch (cause) {
        this.log("debug", "the server did not answer a plain GET either", cause);
      }
    }
    if (generation !== this.generation || this.isClosed()) return;
    if (!refusal) {
      this.onClosed(1006, reason);
      return;
    }
    const text = `the server refused the connection with HTTP ${refusal.status} (${refusal.code}: ${refusal.message})`;
    if (this.options.getToken && !this.refusedOnce) {
      this.refusedOnce = true;
      this.log("warn", `${text}; asking getToken for a fresh token`);
      this.onClosed(1006, reason);
      return;
    }
    this.shutdown(
      new BrainWsError("refused", `${text}; not reconnecting`, { code: refusal.code, status: refusal.status }),
      { code: 1006, ...(reason ? { reason } : {}) },
    );
  }

  /** Drops the current socket without waiting for its closing handshake, then acts as if it closed with `code`. */
  private abandon(code: number, reason: string): void {
    const ws = this.ws;
    this.generation++;
    if (ws) this.dropSocket(ws);
    this.onClosed(code, reason);
  }

  private dropSocket(ws: WebSocketLike, code?: number): void {
    ws.onmessage = null;
    ws.onclose = null;
    ws.onerror = () => {}; // `ws` emits an error when closed before open
    try {
      if (code === undefined && ws.terminate) ws.terminate();
      else ws.close(code);
    } catch (cause) {
      this.log("debug", "closing the WebSocket failed", cause);
    }
  }

  private clearTimers(): void {
    clearTimeout(this.heartbeatTimer);
    clearTimeout(this.connectTimer);
    clearTimeout(this.retryTimer);
    this.heartbeatTimer = this.connectTimer = this.retryTimer = undefined;
  }

  private onClosed(code: number, reason: string): void {
    const wasConnected = this.state_ === "connected";
    this.clearTimers();
    this.ws = null;
    this.welcome_ = undefined;
    this.staleAnswers.clear();
    for (const ch of this.channels.values()) {
      ch.outstanding = false;
      if (ch.status === "subscribed") ch.status = "pending";
    }
    if (this.state_ === "closed") return;
    if (wasConnected && Date.now() - this.connectedAt >= (this.options.backoff?.resetAfterMs ?? DEFAULT_BACKOFF.resetAfterMs)) {
      this.attempts = 0;
    }
    const name = CLOSE_CODE_TABLE[code]?.name;
    this.log("info", `connection closed with ${code}${name ? ` (${name})` : ""}${reason ? `: ${reason}` : ""}`);
    if (code === CLOSE_CODES.token_expired && !this.options.getToken) {
      this.shutdown(
        new BrainWsError("token_expired", "the server closed with 4002 (token_expired) and there is no getToken to ask for a fresh token", { code }),
        { code, reason },
      );
    } else if (!shouldReconnect(code)) {
      this.shutdown(
        new BrainWsError("closed", `the server closed with ${code}${name ? ` (${name})` : ""}${reason ? `: ${reason}` : ""}; not reconnecting`, { code }),
        { code, reason },
      );
    } else {
      this.retry(code, reason);
    }
  }

  private retry(code: number, reason: string): void {
    this.attempts++;
    const delayMs = backoffDelay(this.attempts, this.options.backoff);
    this.setState("reconnecting", { attempt: this.attempts, delayMs, code, ...(reason ? { reason } : {}) });
    this.retryTimer = setTimeout(() => void this.open(), delayMs);
  }

  private shutdown(error: BrainWsError | undefined, change: Omit<StateChange, "state" | "error">): void {
    const ws = this.ws;
    this.generation++;
    this.diagnosis?.abort();
    this.diagnosis = undefined;
    this.clearTimers();
    this.ws = null;
    if (ws) this.dropSocket(ws, 1000);
    this.error_ = error;
    const unsent = this.publishQueue.splice(0);
    for (const ch of this.channels.values()) {
      if (ch.linger !== undefined) clearTimeout(ch.linger);
      for (const sub of ch.subs) sub._end();
    }
    this.channels.clear();
    if (error) this.log("error", error.message);
    this.setState("closed", { ...change, ...(error ? { error } : {}) });
    if (error) this.listeners.emit("error", error);
    for (const { channel, type } of unsent) {
      this.listeners.emit(
        "error",
        new BrainWsError("not_sent", `the client closed before this publish (${type} on ${channel}) could be sent`, { channel }),
      );
    }
  }

  private send(message: ClientMessage): void {
    this.ws?.send(JSON.stringify(message));
  }

  /** Treats a server silent for heartbeat interval + grace as gone. Re-armed lazily, not per frame. */
  private armHeartbeat(): void {
    const due = this.lastHeard + this.heartbeatLimitMs - Date.now();
    this.heartbeatTimer = setTimeout(() => {
      if (Date.now() - this.lastHeard >= this.heartbeatLimitMs) {
        this.log("warn", `nothing from the server for ${this.heartbeatLimitMs} ms (heartbeat interval + grace)`);
        this.abandon(CLOSE_CODES.heartbeat_timeout, "the server was silent for heartbeat interval + grace");
      } else {
        this.armHeartbeat();
      }
    }, Math.max(0, due));
  }

  // ---- frames ----

  private onFrame(data: unknown): void {
    this.lastHeard = Date.now();
    if (typeof data !== "string") {
      this.log("warn", "ignored a binary frame (the protocol is JSON text)");
      return;
    }
    // A batched frame holds several messages, one per line (compact JSON
    // never contains a raw newline).
    if (data.indexOf("\n") < 0) this.onMessage(data);
    else for (const line of data.split("\n")) this.onMessage(line);
  }

  private onMessage(data: string): void {
    let msg: ServerMessage;
    try {
      msg = JSON.parse(data) as ServerMessage;
    } catch {
      this.log("warn", "ignored a frame that is not JSON", data.slice(0, 200));
      return;
    }
    if (msg === null || typeof msg !== "object" || typeof msg.type !== "string") {
      this.log("warn", "ignored a frame without a type", data.slice(0, 200));
      return;
    }
    if (!isControl(msg)) {
      this.onEvent(msg);
      return;
    }
    switch (msg.type) {
      case "connected":
        this.onConnected(msg);
        break;
      case "ping":
        this.send({ type: "pong" });
        break;
      case "subscribed":
        this.onSubscribed(msg);
        break;
      case "unsubscribed":
        this.skipStale(msg.channel);
        break;
      case "error":
        this.onServerError(msg);
        break;
      case "pong":
        break;
      case "join":
      case "leave": {
        const ch = this.channels.get(msg.channel);
        for (const sub of ch?.subs ?? []) sub._presence(msg.type, msg.info);
        break;
      }
    }
  }

  private onConnected(msg: Connected): void {
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.welcome_ = msg;
    this.refusedOnce = false;
    this.connectedAt = Date.now();
    this.heartbeatLimitMs = msg.heartbeat_interval * 1000 + (this.options.heartbeatGraceMs ?? DEFAULTS.heartbeatGraceMs);
    this.armHeartbeat();
    this.setState("connected");
    this.listeners.emit("connected", msg);
    if (this.state_ !== "connected") return; // a listener closed the client
    for (const ch of this.channels.values()) {
      if (ch.linger === undefined) this.sendSubscribe(ch);
    }
    for (const { frame } of this.publishQueue.splice(0)) this.ws?.send(frame);
  }

  /**
   * Sends `subscribe`, with the channel's position as `since` unless
   * `fresh`; the first one of a channel carries its `rewind`, if any.
   */
  private sendSubscribe(ch: Channel, fresh = false): void {
    const since = fresh ? undefined : ch.position;
    ch.outstanding = true;
    ch.sentSince = since ? { ...since } : null;
    if (since) this.send({ type: "subscribe", channel: ch.name, since: { ...since }, ...(ch.presence ? { presence: true } : {}) });
    else if (ch.rewind !== undefined && !ch.answered)
      this.send({ type: "subscribe", channel: ch.name, rewind: ch.rewind, ...(ch.presence ? { presence: true } : {}) });
    else this.send({ type: "subscribe", channel: ch.name, ...(ch.presence ? { presence: true } : {}) });
  }

  /** Whether an answer for `channel` belongs to a subscription already dropped (and consumes it). */
  private skipStale(channel: string | null | undefined): boolean {
    if (typeof channel !== "string") return false;
    const due = this.staleAnswers.get(channel);
    if (!due) return false;
    if (due === 1) this.staleAnswers.delete(channel);
    else this.staleAnswers.set(channel, due - 1);
    return true;
  }

  private onSubscribed(msg: Subscribed): void {
    if (this.skipStale(msg.channel)) return;
    const ch = this.channels.get(msg.channel);
    if (!ch) return;
    // An unsolicited `subscribed` (recovered: false) on a live subscription is
    // the server's stream-restart notice (docs/protocol.md, Stream restarts):
    // the stream restarted or has a gap it cannot fill, and continues from
    // the position it gives. Reported like a reconnect that lost events.
    const notice = !ch.outstanding && ch.status === "subscribed" && msg.recovered === false;
    if (!ch.outstanding && !notice) return;
    ch.outstanding = false;
    const since = ch.sentSince;
    const previous = ch.position;
    const epoch = typeof msg.epoch === "string" ? msg.epoch : undefined;
    const offset = typeof msg.offset === "number" ? msg.offset : undefined;
    const recovered = notice ? false : since ? msg.recovered === true : null;
    const replayed = typeof msg.replayed === "number" ? msg.replayed : null;
    // After a recovery the replay follows and moves the position on; after a
    // rewind the stream continues from before the `replayed` events that
    // follow; in any other case from the answer's position.
    if (epoch !== undefined && offset !== undefined && recovered !== true) {
      ch.position = { epoch, offset: offset - (notice ? 0 : (replayed ?? 0)) };
    }
    ch.rewind = undefined;
    const info: SubscribedInfo = {
      channel: ch.name,
      presence: typeof msg.presence === "boolean" ? msg.presence : undefined,
      epoch,
      offset,
      recovered,
      replayed: notice ? null : replayed,
      renewed: ch.answered,
      epochChanged: epoch !== undefined && previous !== undefined && previous.epoch !== epoch,
      previousEpoch: previous?.epoch,
    };
    ch.answered = true;
    ch.status = "subscribed";
    ch.error = undefined;
    ch.lastSubscribed = info;
    if (recovered === false || info.epochChanged) {
      this.log("warn", `events on "${ch.name}" may be lost`, info);
    }
    for (const sub of ch.subs) sub._subscribed(info);
  }

  private onServerError(msg: ErrorMessage): void {
    const channel = typeof msg.channel === "string" ? msg.channel : undefined;
    const error = new BrainWsError("server", `${msg.code}: ${msg.message}`, {
      code: msg.code,
      ...(channel !== undefined ? { channel } : {}),
    });
    if (msg.code === "not_subscribed") {
      this.skipStale(channel);
      return;
    }
    const ch = channel !== undefined ? this.channels.get(channel) : undefined;
    if (ch && ch.outstanding && SUBSCRIBE_ERRORS.has(msg.code)) {
      ch.outstanding = false;
      ch.status = "failed";
      ch.error = error;
      this.log("warn", `subscription to "${ch.name}" refused`, error.message);
      for (const sub of ch.subs) sub._failed(error);
      return;
    }
    if (channel !== undefined && SUBSCRIBE_ERRORS.has(msg.code) && this.skipStale(channel)) return;
    this.log("warn", `server error ${error.message}`);
    this.listeners.emit("error", error);
  }

  private onEvent(event: EventEnvelope): void {
    const channel = event.channel;
    if (typeof channel !== "string") {
      this.listeners.emit("event", event);
      return;
    }
    const ch = this.channels.get(channel);
    if (!ch) return; // after its last handle went: the unsubscribe is on its way
    if (typeof event.offset === "number" && ch.position) {
      if (event.offset <= ch.position.offset && !ch.outstanding) {
        // The server never repeats an offset on one connection (docs/operations.md,
        // History and recovery on Redis), so this is a new stream (Redis lost its
        // data under a live server): deliver it, and learn the new epoch by
        // subscribing again (idempotent on the server), which reports epochChanged.
        this.log("warn", `offsets on "${channel}" went back from ${ch.position.offset} to ${event.offset}: the stream restarted`);
        ch.position.offset = event.offset;
        this.sendSubscribe(ch, true);
      } else {
        ch.position.offset = event.offset;
      }
    }
    for (const sub of ch.subs) sub._deliver(event);
  }

  private release(ch: Channel, sub: Handle): void {
    ch.subs.delete(sub);
    if (ch.subs.size > 0 || ch.linger !== undefined || this.channels.get(ch.name) !== ch) return;
    ch.linger = setTimeout(() => {
      ch.linger = undefined;
      if (ch.subs.size > 0 || this.channels.get(ch.name) !== ch) return;
      this.channels.delete(ch.name);
      if (this.state_ === "connected" && (ch.outstanding || ch.status === "subscribed")) {
        // Answers still due: the subscribe's (when outstanding) and the unsubscribe's.
        this.staleAnswers.set(ch.name, (this.staleAnswers.get(ch.name) ?? 0) + (ch.outstanding ? 2 : 1));
        this.send({ type: "unsubscribe", channel: ch.name });
      }
    }, 0);
  }
}

/**
 * Creates a client and starts connecting, on a microtask: a `state` listener
 * attached in the same task sees `connecting` first. Node 20 has no global
 * WebSocket: `createClient({ url, WebSocket })` with `import WebSocket from "ws"`.
 *
 * ```ts
 * import { createClient } from "@brain/ws-client";
 *
 * const client = createClient({
 *   url: "ws://127.0.0.1:8000",
 *   // asked before every attempt: a reconnect after 4002 gets a fresh token
 *   getToken: async () => (await fetch("/api/ws-token", { credentials: "include" })).text(),
 * });
 * client.on("state", (state) => console.log(state)); // connecting, connected, …
 * const missions = client.subscribe("missions");
 * missions.on("mission_completed", (e) => console.log(e.data.mission_id));
 * ```
 */
export function createClient(options: ClientOptions): BrainWsClient {
  return new BrainWsClient(options);
}
