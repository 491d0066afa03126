// @brain/ws-client: the browser and Node client of the BRAiN WebSocket
// protocol. React bindings: "@brain/ws-client/react"; Vue 3: "@brain/ws-client/vue".

export { createClient, BrainWsClient, DEFAULTS } from "./client.js";
export type {
  ClientOptions,
  PresenceReadOptions,
  SubscribeOptions,
  ConnectionState,
  Logger,
  StateChange,
  WebSocketConstructor,
  WebSocketLike,
} from "./client.js";
export { backoffCeiling, backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from "./backoff.js";
export { BrainWsError, type BrainWsErrorKind } from "./errors.js";
export type { Off } from "./emitter.js";
export { Subscription } from "./subscription.js";
export { fetchHistory, type HistoryOptions } from "./history.js";
export type { FetchLike, FetchResponseLike } from "./http.js";
export { ChannelFeed, DEFAULT_MIN_INTERVAL_MS, type ChannelSnapshot, type FeedOptions } from "./feed.js";
export { PresenceFeed, type PresenceSnapshot } from "./presence.js";
export type {
  CatalogueType,
  ChannelEventType,
  Position,
  SubscribedInfo,
  SubscriptionStatus,
  TypedEvent,
} from "./types.js";
