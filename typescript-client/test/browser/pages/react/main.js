// The React test page: the specification's MissionDashboard written with
// the hooks, in StrictMode, plus a second component on the same channel.
import { createElement as h, StrictMode, useState } from "react";
import { createRoot } from "react-dom/client";
import { BrainWsProvider, useChannel, useConnectionState, useEvent } from "@brain/ws-client/react";
import { testClient } from "../common.js";

function MissionDashboard() {
  const state = useConnectionState();
  const { events, status, subscribed } = useChannel("missions", { limit: 50 });
  return h(
    "div",
    null,
    h("h2", null, "Status: ", h("span", { id: "state" }, state)),
    h("p", null, "Subscription: ", h("span", { id: "status" }, status), " recovered: ", h("span", { id: "recovered" }, String(subscribed?.recovered))),
    h("ul", { id: "missions" }, events.map((e, i) => h("li", { key: `${i}:${e.offset}` }, `${e.type}: ${e.data.mission_id}`))),
  );
}

function Counter() {
  const [n, setN] = useState(0);
  useEvent("missions", "mission_started", () => setN((x) => x + 1));
  return h("p", null, "started: ", h("span", { id: "count" }, String(n)));
}

createRoot(document.getElementById("root")).render(
  h(StrictMode, null, h(BrainWsProvider, { client: testClient() }, h(MissionDashboard), h(Counter))),
);
