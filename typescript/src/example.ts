// A tiny typed client in the spirit of the seed's React `useWebSocket` hook,
// without React: it answers pings, (re)subscribes, narrows server messages by
// `type`, filters events by channel, and reconnects when the close code says
// so. It type-checks against the generated types; it is not a full SDK.

import {
  catalogueEvent,
  isControl,
  PROTOCOL_VERSION,
  type ChannelName,
  type ClientMessage,
  type EventEnvelope,
  type ServerMessage,
  type StreamPosition,
} from "./index.js";

/** Mirrors `should_reconnect` in protocol/src/close_code.rs (docs/protocol.md#close-codes). */
export function shouldReconnect(code: number): boolean {
  return !([1000, 1002, 1003, 1007, 1008].includes(code) || (code >= 4500 && code <= 4999));
}

type EventHandler = (event: EventEnvelope) => void;

export class BrainSocket {
  private ws: WebSocket | null = null;
  private connected = false;
  private closedByUser = false;
  private reconnectDelay = 1000;
  /** Subscribed channels and the last position seen on each (for `since`). */
  private readonly channels = new Map<ChannelName, StreamPosition | undefined>();
  private readonly handlers = new Map<ChannelName | null, Set<EventHandler>>();

  constructor(private readonly url: string) {
    this.open();
  }

  /** Subscribes now if connected, and again after every reconnect. */
  subscribe(channel: ChannelName): void {
    if (!this.channels.has(channel)) this.channels.set(channel, undefined);
    if (this.connected) this.send({ type: "subscribe", channel });
  }

  unsubscribe(channel: ChannelName): void {
    this.channels.delete(channel);
    if (this.connected) this.send({ type: "unsubscribe", channel });
  }

  /**
   * Calls `handler` for each event on `channel` (or, with `null`, for events
   * without a channel: send-to-user and broadcast-to-all). Returns a function
   * that removes the handler.
   */
  on(channel: ChannelName | null, handler: EventHandler): () => void {
    const set = this.handlers.get(channel) ?? new Set<EventHandler>();
    set.add(handler);
    this.handlers.set(channel, set);
    return () => set.delete(handler);
  }

  close(): void {
    this.closedByUser = true;
    this.ws?.close(1000);
  }

  private send(message: ClientMessage): void {
    this.ws?.send(JSON.stringify(message));
  }

  private open(): void {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onmessage = (frame: MessageEvent<string>) => {
      let msg: ServerMessage;
      try {
        msg = JSON.parse(frame.data) as ServerMessage;
      } catch {
        return; // the server only sends JSON; ignore anything else
      }
      this.handle(msg);
    };
    ws.onclose = (close: CloseEvent) => {
      this.connected = false;
      if (this.closedByUser || !shouldReconnect(close.code)) return;
      setTimeout(() => this.open(), this.reconnectDelay);
      this.reconnectDelay = Math.min(this.reconnectDelay * 2, 30_000);
    };
  }

  private handle(msg: ServerMessage): void {
    if (!isControl(msg)) {
      this.dispatch(msg);
      return;
    }
    switch (msg.type) {
      case "connected":
        if (msg.protocol !== PROTOCOL_VERSION) console.warn(`server speaks ${msg.protocol}`);
        this.connected = true;
        this.reconnectDelay = 1000;
        for (const [channel, since] of this.channels) {
          this.send(since ? { type: "subscribe", channel, since } : { type: "subscribe", channel });
        }
        break;
      case "ping":
        this.send({ type: "pong" });
        break;
      case "subscribed": {
        // History channels report their epoch and latest offset: start
        // tracking there, unless a recovery from our own position is replaying.
        const seen = this.channels.get(msg.channel);
        if (msg.epoch != null && msg.offset != null && this.channels.has(msg.channel)) {
          if (!seen || seen.epoch !== msg.epoch || msg.recovered === false) {
            this.channels.set(msg.channel, { epoch: msg.epoch, offset: msg.offset });
          }
        }
        if (msg.recovered === false) console.warn(`missed events on ${msg.channel} are lost`);
        break;
      }
      case "error":
        console.error(`server error ${msg.code}: ${msg.message}`, msg.channel ?? "");
        break;
      case "pong":
      case "unsubscribed":
        break;
    }
  }

  private dispatch(event: EventEnvelope): void {
    const channel = event.channel ?? null;
    if (channel !== null && event.offset != null) {
      const position = this.channels.get(channel);
      // Keep the epoch from `subscribed`; without one, history is unavailable.
      if (position) position.offset = event.offset;
    }
    for (const handler of this.handlers.get(channel) ?? []) handler(event);
  }
}

/** The seed's `MissionDashboard`, without React: mission events, typed. */
export function missionDashboard(url = "ws://localhost:8000/ws/connect"): BrainSocket {
  const socket = new BrainSocket(url);
  socket.subscribe("missions");
  socket.on("missions", (envelope) => {
    const event = catalogueEvent(envelope);
    if (event === undefined) {
      // Not in the catalogue (a custom or newer event type): keep it raw.
      console.log(`${envelope.type}: ${JSON.stringify(envelope.data)}`);
      return;
    }
    switch (event.type) {
      case "mission_created":
        console.log(`created ${event.data.mission_id}`, event.data["name"]);
        break;
      case "mission_failed":
        console.log(`failed ${event.data.mission_id}: ${event.data.error}`);
        break;
      default:
        console.log(`${event.type}: ${JSON.stringify(event.data)}`);
    }
  });
  return socket;
}
