// The benchmark page (bench/browser-metrics.mjs). `?mode=react`: a
// dashboard of the last 100 `metrics` events through useChannel; `?mode=raw`
// (the baseline): a bare WebSocket that answers pings, parses each frame and
// counts it, rendering nothing (`&batch=1`: connected with batched frames,
// splitting each into its lines). Both record in window.__bench which `seq`
// arrived (lost and repeated events) and whether offsets only increased.
// `&interval=MS` sets useChannel's minIntervalMs; `&batch=0` turns the
// client's batched frames off; `&view=text` renders the
// rows as one text block; `&view=plain` as a plain auto-layout table whose
// rows re-render on every snapshot; `&view=kept` as the default table with
// rows keyed by position (kept, only their text changes). The default table is the cheap way to
// show a fast feed: memoized rows keyed by offset (a row that stays is not
// re-rendered), fixed table layout inside a size-contained box (a changed
// row does not re-lay-out the rest of the page).
import { createElement as h, memo } from "react";
import { createRoot } from "react-dom/client";
import { createClient } from "@brain/ws-client";
import { BrainWsProvider, useChannel, useConnectionState } from "@brain/ws-client/react";

const params = new URLSearchParams(location.search);
const bench = (window.__bench = { received: 0, repeats: 0, offsetInversions: 0, lastOffset: 0, ready: false, reconnects: 0, base: 0, frames: 0 });
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
  const batch = params.get("batch") === "1";
  const ws = new WebSocket(`${params.get("ws")}/ws/connect${batch ? "?batch=1" : ""}`);
  const onMessage = (text) => {
    const msg = JSON.parse(text);
    if (msg.type === "ping") ws.send('{"type":"pong"}');
    else if (msg.type === "connected") ws.send('{"type":"subscribe","channel":"metrics"}');
    else if (msg.type === "subscribed") bench.ready = true;
    else if (msg.channel === "metrics") count(msg.data.seq, msg.offset);
  };
  ws.onmessage = (m) => {
    bench.frames++;
    if (batch) m.data.split("\n").forEach(onMessage);
    else onMessage(m.data);
  };
} else {
  const client = createClient({ url: params.get("ws"), batch: params.get("batch") !== "0" });
  client.on("state", (s) => s === "reconnecting" && bench.reconnects++);
  const counter = client.subscribe("metrics");
  counter.on("metrics_update", (e) => count(e.data.seq, e.offset));
  counter.on("subscribed", () => (bench.ready = true));

  const cells = (e) => [h("td", { key: "s" }, e.data.seq), h("td", { key: "c" }, e.data.cpu.toFixed(3)), h("td", { key: "m" }, e.data.mem)];
  // An event never changes, so a row keyed by its offset never re-renders.
  const Row = memo(function Row({ event }) {
    return h("tr", null, cells(event));
  });
  const box = { contain: "strict", width: "320px", height: "2200px", overflow: "hidden" };
  const table = { tableLayout: "fixed", width: "300px", borderCollapse: "collapse" };
  const views = {
    text: (events) => h("pre", null, events.map((e) => `${e.data.seq} ${e.data.cpu.toFixed(3)} ${e.data.mem}`).join("\n")),
    plain: (events) => h("table", null, h("tbody", null, events.map((e) => h("tr", { key: e.offset }, cells(e))))),
    table: (events) => h("div", { style: box }, h("table", { style: table }, h("tbody", null, events.map((e) => h(Row, { key: e.offset, event: e }))))),
    // The same box, rows keyed by position: the 100 <tr> stay, only their text changes.
    kept: (events) => h("div", { style: box }, h("table", { style: table }, h("tbody", null, events.map((e, i) => h(Row, { key: i, event: e }))))),
  };
  const view = views[params.get("view") ?? "table"];

  function Metrics() {
    const state = useConnectionState();
    const interval = params.get("interval");
    const { events, received } = useChannel("metrics", interval === null ? { limit: 100 } : { limit: 100, minIntervalMs: Number(interval) });
    return h("div", null, h("h2", null, `${state}: ${received} events`), view(events));
  }
  createRoot(document.getElementById("root")).render(h(BrainWsProvider, { client }, h(Metrics)));
}
