// `GET /api/ws/channels/{channel}/history` (docs/protocol.md): a history
// channel's retained events, read over HTTP with the admin API's key.

import type { HistoryResponse } from "@brain/ws-protocol";
import { adminRead, globalFetch, type FetchLike } from "./http.js";
import type { Position } from "./types.js";

/** Options of {@link fetchHistory}. */
export interface HistoryOptions {
  /** At most this many events: 1 to the server's history size (default: the history size). */
  limit?: number;
  /** The last event read: the events after it (page forward with the last event's position). */
  since?: Position;
  /** An API key, sent as `Authorization: Bearer` (the route is an admin one). */
  apiKey?: string;
  /** The `fetch` to use (default `globalThis.fetch`). */
  fetch?: FetchLike;
}

/**
 * Reads `channel`'s retained events from the server at `httpBase`
 * (`http://host:port`): newest last, with the stream's `epoch` and latest
 * `offset`. `complete: false` says events before the first returned are
 * lost (a `since` outside the retained window). Rejects with a
 * `BrainWsError` of kind `server` carrying the error body's `code` and the
 * HTTP `status` (404 `not_found` without history, 400 `invalid_message`
 * for a bad `limit`, 401/403 without the right key), or `code`
 * `unreachable` without an answer (in a browser also a page of another
 * origin: the admin API sends no CORS headers).
 */
export async function fetchHistory(httpBase: string, channel: string, options: HistoryOptions = {}): Promise<HistoryResponse> {
  const url = new URL(`/api/ws/channels/${encodeURIComponent(channel)}/history`, httpBase);
  if (options.limit !== undefined) url.searchParams.set("limit", String(options.limit));
  if (options.since) url.searchParams.set("since", `${options.since.epoch}:${options.since.offset}`);
  return adminRead(options.fetch ?? globalFetch(), url.href, channel, options.apiKey) as Promise<HistoryResponse>;
}
