// The admin API's HTTP reads (history, presence members and counts): one
// GET, its JSON answer or a typed error. docs/protocol.md, Errors, gives
// the error body.

import { BrainWsError, unreachable } from "./errors.js";

/** The part of a `fetch` `Response` the client reads. */
export interface FetchResponseLike {
  readonly status: number;
  json(): Promise<unknown>;
}

/** A `fetch`: `globalThis.fetch`, or any function of this shape. */
export type FetchLike = (
  url: string,
  init?: { signal?: AbortSignal; cache?: "no-store"; headers?: Record<string, string> },
) => Promise<FetchResponseLike>;

/** The server's JSON error body (docs/protocol.md, Errors). */
export interface ErrorBody {
  error?: { code?: unknown; message?: unknown };
}

/** `globalThis.fetch`, if the runtime has one. */
export function globalFetch(): FetchLike | undefined {
  return (globalThis as { fetch?: FetchLike }).fetch;
}

/**
 * `GET url` (uncached; `apiKey` as `Authorization: Bearer`) with `fetchFn`.
 * Resolves with the JSON body of a 200. Rejects with a `BrainWsError` of
 * kind `server` about `channel`: the error body's `code` and `message`
 * (else `http_<status>` and `HTTP <status>`) with the HTTP `status`, or
 * code `unreachable` without an answer (no `fetch`, a network error, or in
 * a browser a page of another origin: the admin API sends no CORS headers).
 */
export async function adminRead(
  fetchFn: FetchLike | undefined,
  url: string,
  channel: string,
  apiKey: string | undefined,
): Promise<unknown> {
  let res: FetchResponseLike;
  try {
    if (!fetchFn) throw new Error("no fetch: pass the `fetch` option");
    res = await fetchFn(url, {
      cache: "no-store",
      ...(apiKey ? { headers: { authorization: `Bearer ${apiKey}` } } : {}),
    });
  } catch (cause) {
    throw unreachable(url, channel, cause);
  }
  const body = (await res.json().catch(() => null)) as unknown;
  if (res.status !== 200) {
    const error = (body as ErrorBody | null)?.error;
    const code = typeof error?.code === "string" ? error.code : `http_${res.status}`;
    const message = typeof error?.message === "string" ? error.message : `HTTP ${res.status}`;
    throw new BrainWsError("server", `${code}: ${message}`, { code, channel, status: res.status });
  }
  return body;
}
