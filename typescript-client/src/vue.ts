// Vue 3 composables with the meaning of the React hooks: install the client
// with `app.use(brainWs(client))` (or pass it to each composable), then
// `useConnectionState()` and `useChannel(channel, { limit })` in `setup`.
// Subscriptions end with the component's (or effect scope's) disposal.

import {
  inject,
  onScopeDispose,
  shallowRef,
  toValue,
  watch,
  type App,
  type InjectionKey,
  type MaybeRefOrGetter,
  type ShallowRef,
} from "vue";
import type { BrainWsClient, ConnectionState } from "./client.js";
import { ChannelFeed, type ChannelSnapshot, type FeedOptions } from "./feed.js";
import { PresenceFeed, type PresenceSnapshot } from "./presence.js";
import type { PresenceReadOptions } from "./client.js";

/** The injection key of the client. */
export const BRAIN_WS_CLIENT: InjectionKey<BrainWsClient> = Symbol("brain-ws-client");

/** A Vue plugin that provides `client` to every component: `app.use(brainWs(client))`. */
export function brainWs(client: BrainWsClient): { install(app: App): void } {
  return { install: (app) => void app.provide(BRAIN_WS_CLIENT, client) };
}

function useClient(client?: BrainWsClient): BrainWsClient {
  const found = client ?? inject(BRAIN_WS_CLIENT, null);
  if (!found) throw new Error("@brain/ws-client/vue: no client: app.use(brainWs(client)) or pass one");
  return found;
}

/** The connection's state as a ref, updated on each change. */
export function useConnectionState(client?: BrainWsClient): Readonly<ShallowRef<ConnectionState>> {
  const c = useClient(client);
  const state = shallowRef(c.state);
  const off = c.on("state", (s) => (state.value = s));
  onScopeDispose(off);
  return state;
}

/**
 * The last `limit` events of `channel` (default 100, newest last) and its
 * subscription's state, as a ref to a snapshot (`ch.value.events`; in a
 * template `ch.events`). Updated at most once per animation frame, and on a
 * busy channel at most every `minIntervalMs` (default 100 ms).
 *
 * `channel` may be a string, a ref or a getter (`() => props.channel`): when
 * its value changes the old channel is released and the new one subscribed,
 * and the snapshot starts over (empty, `pending`) for the new channel. An
 * invalid name throws (`BrainWsError` `invalid`) like `client.subscribe`.
 */
export function useChannel(
  channel: MaybeRefOrGetter<string>,
  options: FeedOptions & { client?: BrainWsClient } = {},
): Readonly<ShallowRef<ChannelSnapshot>> {
  const client = useClient(options.client);
  const snapshot = shallowRef<ChannelSnapshot>(undefined as unknown as ChannelSnapshot);
  let stop = (): void => {};
  const follow = (name: string): void => {
    stop();
    const feed = new ChannelFeed(client, name, options);
    snapshot.value = feed.getSnapshot();
    const off = feed.watch(() => (snapshot.value = feed.getSnapshot()));
    feed.start();
    stop = () => {
      off();
      feed.stop();
    };
  };
  follow(toValue(channel));
  // `flush: "sync"`: the switch happens with the change, not a tick later.
  const unwatch = watch(() => toValue(channel), follow, { flush: "sync" });
  onScopeDispose(() => {
    unwatch();
    stop();
  });
  return snapshot;
}

/**
 * The members of presence channel `channel`, oldest join first, as a ref to
 * a snapshot kept current with `join` and `leave` (the React `usePresence`'s
 * meaning). Released with the component's scope.
 */
export function usePresence(
  channel: string,
  options: PresenceReadOptions & { client?: BrainWsClient } = {},
): Readonly<ShallowRef<PresenceSnapshot>> {
  const client = useClient(options.client);
  const feed = new PresenceFeed(client, channel, options.apiKey !== undefined ? { apiKey: options.apiKey } : {});
  const snapshot = shallowRef(feed.getSnapshot());
  const off = feed.watch(() => (snapshot.value = feed.getSnapshot()));
  feed.start();
  onScopeDispose(() => {
    off();
    feed.stop();
  });
  return snapshot;
}

export type { ChannelSnapshot, FeedOptions } from "./feed.js";
export type { PresenceSnapshot } from "./presence.js";
