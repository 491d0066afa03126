// The one error type the client reports, so applications can switch on
// `kind` (and `code`) instead of parsing messages.

/**
 * What went wrong:
 * - `closed`: the server closed with a terminal close code (`code` is the
 *   close code, e.g. 4500 or 4501; docs/protocol.md, Close codes); the client
 *   does not reconnect.
 * - `token_expired`: the server closed with 4002 and the client has no
 *   `getToken` to ask for a fresh token; the client does not reconnect.
 * - `refused`: the server refused the WebSocket upgrade with HTTP 401 or 403
 *   (a missing, invalid or expired token; an origin not in its
 *   `allowed_origins`), and `getToken`, if given, was asked for a fresh
 *   token once and refused again; `code` is the server's error code
 *   (`unauthorized`, `forbidden`), `status` the HTTP status, the message
 *   includes the server's. The client does not reconnect.
 * - `token`: `getToken` threw or rejected; the attempt counts as failed and
 *   the client retries with backoff.
 * - `server`: the server answered an `error` message (`code` is the
 *   protocol's error code, e.g. `forbidden`, `publish_not_allowed`;
 *   `channel` when it named one).
 * - `invalid`: bad input to the client itself (an invalid channel name or
 *   event type, a URL that is not ws:// or wss://); thrown synchronously.
 * - `overflow`: a bounded buffer filled up (an async iterator that is not
 *   consumed, the publish queue while disconnected); nothing is dropped
 *   silently.
 * - `no_websocket`: no `WebSocket` constructor was passed and the runtime has
 *   none (Node 20: pass the `ws` package's).
 * - `closed_by_client`: the operation needs an open client, but `close()` was
 *   called.
 * - `not_sent`: a `publish` held while disconnected was discarded because
 *   the client closed (`close()`, a terminal close code) before it could be
 *   sent; one per publish, with its `channel`, on `client.on("error")`.
 */
export type BrainWsErrorKind =
  | "closed"
  | "token_expired"
  | "refused"
  | "token"
  | "server"
  | "invalid"
  | "overflow"
  | "no_websocket"
  | "closed_by_client"
  | "not_sent";

/** An error of `@brain/ws-client`; `kind` says which (see {@link BrainWsErrorKind}). */
export class BrainWsError extends Error {
  override readonly name = "BrainWsError";
  /** The close code (`closed`, `token_expired`) or the protocol error code (`server`, `refused`). */
  readonly code: number | string | undefined;
  /**
   * `refused`: the HTTP status of the refusal (401 or 403); `server` from an
   * HTTP read (`fetchHistory`, `presence`, `presenceStats`): its status.
   */
  readonly status: number | undefined;
  /** The channel the error is about, when there is one. */
  readonly channel: string | undefined;

  constructor(
    readonly kind: BrainWsErrorKind,
    message: string,
    details: { code?: number | string; channel?: string; status?: number; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = details.code;
    this.channel = details.channel;
    this.status = details.status;
  }
}

/**
 * An HTTP read of the admin API (`fetchHistory`, `presence`) that got no
 * answer: the server is unreachable or, in a browser, the page has another
 * origin (the admin API sends no CORS headers, and fetch tells neither apart).
 */
export function unreachable(url: string, channel: string, cause: unknown): BrainWsError {
  return new BrainWsError(
    "server",
    `unreachable: GET ${url} failed (${String(cause)}); in a browser the page must have the server's origin ` +
      "(the admin API sends no CORS headers; docs/clients.md, Presence)",
    { code: "unreachable", channel, cause },
  );
}
