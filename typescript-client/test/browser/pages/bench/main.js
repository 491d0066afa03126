// The benchmark page (bench/browser-metrics.mjs). `?mode=react`: a
// dashboard of the last 100 `metrics` events through useChannel; `?mode=raw`
// (the baseline): a bare WebSocket that answers pings, parses each frame and
// counts it, rendering nothing. Both record in window.__bench which `seq`
// arrived (lost and repeated events) and whether offsets only increased.
// `&interval=MS` sets useChannel's minIntervalMs; `&view=text` renders the
// rows as one text block instead of a table.
import { createElement as h } from "react";
import { createRoot } from "react-dom/client";
import { createClient } from "@brain/ws-client";
import { BrainWsProvider, useChannel, useConnectionState } from "@brain/ws-client/react";

const params = new URLSearchParams(location.search);
const bench = (window.__bench = { received: 0, repeats: 0, offsetInversions: 0, lastOffset: 0, ready: false, reconnects: 0, base: 0 });
const seen = new Uint8Array(1 << 20);
window.__distinct = (from, to) => {
  let n = 0;
  for (let i = from; i <= to; i++) n += seen[i];
  return n;
};
function count(seq, offset) {
  bench.received++;
  if (seen[seq]) bench.repeats++;
  seen[seq] = 1;
  if (offset <= bench.lastOffset) bench.offsetInversions++;
  bench.lastOffset = offset;
}

if (params.get("mode") === "raw") {
  const ws = new WebSocket(`${params.get("ws")}/ws/connect`);
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.type === "ping") ws.send('{"type":"pong"}');
    else if (msg.type === "connected") ws.send('{"type":"subscribe","channel":"metrics"}');
    else if (msg.type === "subscribed") bench.ready = true;
    else if (msg.channel === "metrics") count(msg.data.seq, msg.offset);
  };
} else {
  const client = createClient({ url: params.get("ws") });
  client.on("state", (s) => s === "reconnecting" && bench.reconnects++);
  const counter = client.subscribe("metrics");
  counter.on("metrics_update", (e) => count(e.data.seq, e.offset));
  counter.on("subscribed", () => (bench.ready = true));

  function Metrics() {
    const state = useConnectionState();
    const interval = params.get("interval");
    const { events, received } = useChannel("metrics", interval === null ? { limit: 100 } : { limit: 100, minIntervalMs: Number(interval) });
    return h(
      "div",
      null,
      h("h2", null, `${state}: ${received} events`),
      params.get("view") === "text"
        ? h("pre", null, events.map((e) => `${e.data.seq} ${e.data.cpu.toFixed(3)} ${e.data.mem}`).join("\n"))
        : h("table", null, h("tbody", null, events.map((e) => h("tr", { key: e.offset }, h("td", null, e.data.seq), h("td", null, e.data.cpu.toFixed(3)), h("td", null, e.data.mem))))),
    );
  }
  createRoot(document.getElementById("root")).render(h(BrainWsProvider, { client }, h(Metrics)));
}
