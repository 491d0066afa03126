// React bindings. Components share the client through a provider; every
// hook on one channel shares one subscription on the wire (the client counts
// handles and delays the wire unsubscribe by a task, so StrictMode's
// mount-unmount-mount leaves exactly one subscribe).

import {
  createContext,
  createElement,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useSyncExternalStore,
  type ReactNode,
} from "react";
import type { EventEnvelope } from "@brain/ws-protocol";
import type { BrainWsClient, ConnectionState } from "./client.js";
import { ChannelFeed, DEFAULT_MIN_INTERVAL_MS, type ChannelSnapshot, type FeedOptions } from "./feed.js";
import { PresenceFeed, type PresenceSnapshot } from "./presence.js";
import type { PresenceReadOptions } from "./client.js";
import type { ChannelEventType, TypedEvent } from "./types.js";

const ClientContext = createContext<BrainWsClient | null>(null);

/** Makes `client` available to the hooks below it. Create the client once, outside render. */
export function BrainWsProvider(props: { client: BrainWsClient; children?: ReactNode }): ReactNode {
  return createElement(ClientContext.Provider, { value: props.client }, props.children);
}

/** The client of the nearest {@link BrainWsProvider}; throws without one. */
export function useBrainWsClient(): BrainWsClient {
  const client = useContext(ClientContext);
  if (!client) throw new Error("@brain/ws-client/react: no <BrainWsProvider client={...}> above this component");
  return client;
}

/** The connection's state (`connecting`, `connected`, `reconnecting`, `closed`), re-rendering on change. */
export function useConnectionState(): ConnectionState {
  const client = useBrainWsClient();
  return useSyncExternalStore(
    (onChange) => client.on("state", onChange),
    () => client.state,
    () => client.state,
  );
}

/**
 * The last `limit` events of `channel` (default 100, newest last) and its
 * subscription's state. Re-renders at most once per animation frame, and on
 * a busy channel at most every `minIntervalMs` (default 100 ms), however
 * fast events arrive; memory stays at `limit` events. With `rewind`, it
 * starts with the channel's last `rewind` retained events (a dashboard that
 * opens mid-mission shows what happened), then live ones.
 */
export function useChannel(channel: string, options: FeedOptions = {}): ChannelSnapshot {
  const client = useBrainWsClient();
  const limit = options.limit ?? 100;
  const minIntervalMs = options.minIntervalMs ?? DEFAULT_MIN_INTERVAL_MS;
  const rewind = options.rewind;
  const feed = useMemo(
    () => new ChannelFeed(client, channel, { limit, minIntervalMs, ...(rewind !== undefined ? { rewind } : {}) }),
    [client, channel, limit, minIntervalMs, rewind],
  );
  useEffect(() => {
    feed.start();
    return () => feed.stop();
  }, [feed]);
  return useSyncExternalStore(feed.watch, feed.getSnapshot, feed.getSnapshot);
}

/**
 * Calls `handler` for every event of type `type` on `channel` (`"event"` for
 * every event), synchronously as each arrives. The latest `handler` is used
 * without resubscribing.
 */
export function useEvent<C extends string, T extends ChannelEventType<C>>(
  channel: C,
  type: T,
  handler: (event: TypedEvent<T>) => void,
): void;
export function useEvent(channel: string, type: "event", handler: (event: EventEnvelope) => void): void;
export function useEvent(channel: string, type: string, handler: (event: never) => void): void {
  const client = useBrainWsClient();
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => {
    const sub = client.subscribe(channel);
    sub.on(type as "event", (event) => (latest.current as (e: EventEnvelope) => void)(event));
    return () => sub.unsubscribe();
  }, [client, channel, type]);
}

/**
 * The members of presence channel `channel` (docs/protocol.md, Presence),
 * oldest join first, re-rendering on every `join` and `leave`. Reads the
 * list with `client.presence` after each (re)subscribe: an admin read, so
 * pass `apiKey` unless the server answers loopback peers.
 */
export function usePresence(channel: string, options: PresenceReadOptions = {}): PresenceSnapshot {
  const client = useBrainWsClient();
  const apiKey = options.apiKey;
  const feed = useMemo(
    () => new PresenceFeed(client, channel, apiKey !== undefined ? { apiKey } : {}),
    [client, channel, apiKey],
  );
  useEffect(() => {
    feed.start();
    return () => feed.stop();
  }, [feed]);
  return useSyncExternalStore(feed.watch, feed.getSnapshot, feed.getSnapshot);
}

export type { ChannelSnapshot, FeedOptions } from "./feed.js";
export type { PresenceSnapshot } from "./presence.js";
