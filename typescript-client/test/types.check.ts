// Compile-time checks of the typed event API, run by `npm run check`
// (tsc). Each `@ts-expect-error` must meet an error, or tsc fails.

import type { EventEnvelope } from "@brain/ws-protocol";
import { createClient, fetchHistory } from "../src/index.js";
import { useEvent } from "../src/react.js";

declare const WebSocketImpl: import("../src/index.js").WebSocketConstructor;
const client = createClient({ url: "ws://127.0.0.1:8000", WebSocket: WebSocketImpl });
const missions = client.subscribe("missions");

missions.on("mission_completed", (e) => {
  const id: string = e.data.mission_id;
  const offset: number | null | undefined = e.offset;
  void [id, offset];
});
missions.on("mission_failed", (e) => e.data.error.toUpperCase());
// @ts-expect-error mission_completed has no field `mission_name`
missions.on("mission_completed", (e) => e.data.mission_name);
// @ts-expect-error mission_failed's `error` is a string, not a number
missions.on("mission_failed", (e) => e.data.error.toFixed());
// @ts-expect-error agent_heartbeat is not an event of the missions channel
missions.on("agent_heartbeat", () => {});
missions.on("event", (e: EventEnvelope) => e.type);
missions.on("subscribed", (info) => info.recovered === true || info.epochChanged);

// On a non-standard channel every catalogue type is allowed, typed.
const jobs = client.subscribe("tenant.a:jobs");
jobs.on("agent_heartbeat", (e) => e.data.agent_id.length);
// @ts-expect-error not a catalogue event type (use "event" for custom types)
jobs.on("custom_thing", () => {});

client.on("state", (state, change) => [state === "reconnecting", change.delayMs]);
// @ts-expect-error not a connection state
client.on("state", (state) => state === "open");

// The React hook has the same typing.
useEvent("missions", "mission_created", (e) => e.data.mission_id);
// @ts-expect-error mission_created's data has mission_id, not id
useEvent("missions", "mission_cancelled", (e) => e.data.id);

// `globalThis.fetch` fits the client's and fetchHistory's `fetch` option.
createClient({ url: "ws://localhost:8000", fetch: globalThis.fetch });
void fetchHistory("http://localhost:8000", "missions", { fetch: globalThis.fetch });
