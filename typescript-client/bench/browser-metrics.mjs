// Benchmark (a program, not a test): 5,000 events/s for 10 s into one
// headless Chromium tab through useChannel("metrics", { limit: 100 }) (React
// production build), against a baseline tab with a bare WebSocket that only
// parses and counts, in the same run. Prints lost/repeated events,
// main-thread busy % (CDP TaskDuration over wall time), main-thread CPU %
// (CDP ThreadTime over wall time: what a loaded machine's preemption does
// not inflate) and JS heap before/after (after a forced GC), side by side,
// with ratios to the baseline of the same round. Results go to
// docs/benchmarks.md by hand.
//
//   npm run build && cargo build [--release] -p brain-ws-server
//   npm run bench:browser -w @brain/ws-client     [RATE=5000 SECONDS=10 ROUNDS=2 ONLY="name;name" SERVER=path TRACE=1]
//
// TRACE=1 also records a Chromium trace of each variant's first round and
// prints where the main thread's time went, by trace event (self time:
// script, style, layout, paint, GC, ...), to explain the busy figures.
//
// Variants (the bench page's query): a bare WebSocket (the baseline: one
// message per frame) and the same with batched frames (`?batch=1`, split
// per line: the floor of what the client receives by default); the
// useChannel default (batched frames; a snapshot at
// most every 100 ms on a busy channel) and every animation frame
// (minIntervalMs 0), each rendering the 100 events as a table of memoized
// rows keyed by offset or as one text block; a plain auto-layout table
// re-rendering every row, every frame; and the table with rows keyed by
// position (kept, only their text changes); and the default table with
// batching off (one frame per event, as before batched frames).
//
// Events are published by a Node WebSocket client (client publish on
// `metrics`, rate limit lifted) in 10 ms batches, so the publisher costs
// little; the server is the release build when target/release has one.

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { cpus, loadavg, tmpdir } from "node:os";
import { extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { build } from "vite";
import WebSocket from "ws";

const here = fileURLToPath(new URL(".", import.meta.url));
const root = resolve(here, "../..");
const RATE = Number(process.env.RATE ?? 5000);
const SECONDS = Number(process.env.SECONDS ?? 10);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const target = process.env.CARGO_TARGET_DIR ?? resolve(root, "target");
const serverBin =
  process.env.SERVER ?? [resolve(target, "release/brain-ws-server"), resolve(target, "debug/brain-ws-server")].find(existsSync);
if (!serverBin) throw new Error("no brain-ws-server binary: cargo build -p brain-ws-server");

// 1. The pages, production build.
const dist = mkdtempSync(join(tmpdir(), "brain-ws-bench-pages-"));
process.env.NODE_ENV = "production";
await build({ configFile: resolve(here, "../test/browser/vite.config.mjs"), mode: "production", build: { outDir: dist, minify: true } });
const http = createServer((req, res) => {
  const path = resolve(dist, `.${new URL(req.url ?? "/", "http://x").pathname}`);
  if (!path.startsWith(dist) || !statSync(path, { throwIfNoEntry: false })?.isFile()) return void res.writeHead(404).end();
  res.writeHead(200, { "content-type": { ".html": "text/html", ".js": "text/javascript" }[extname(path)] ?? "application/octet-stream" }).end(readFileSync(path));
});
await new Promise((r) => http.listen(0, "127.0.0.1", r));
const pages = `http://127.0.0.1:${http.address().port}`;

// 2. The server: client publish on metrics, no rate limit, history on.
const server = spawn(serverBin, ["--bind", "127.0.0.1:0", "--client-publish", "metrics", "--rate-limit", "1000000", "--rate-burst", "1000000", "--log-format", "json"], {
  stdio: ["ignore", "pipe", "pipe"],
});
let log = "";
const addr = await new Promise((res, rej) => {
  const on = (d) => {
    log += d;
    const m = /listening on (127\.0\.0\.1:\d+)/.exec(log);
    if (m) res(m[1]);
  };
  server.stdout.on("data", on);
  server.stderr.on("data", on);
  server.once("exit", (c) => rej(new Error(`server exited ${c}: ${log}`)));
});

// 3. Chromium.
const profile = mkdtempSync(join(tmpdir(), "brain-ws-bench-chromium-"));
const context = await chromium
  .launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  })
  .catch((e) => {
    // Leave nothing running: the server and the page server are up already.
    server.kill("SIGTERM");
    http.close();
    rmSync(profile, { recursive: true, force: true });
    rmSync(dist, { recursive: true, force: true });
    throw e;
  });

async function publisher() {
  const ws = new WebSocket(`ws://${addr}/ws/connect`);
  await new Promise((r, j) => {
    ws.on("message", (m) => JSON.parse(m.toString()).type === "connected" && r());
    ws.on("error", j);
  });
  ws.on("message", (m) => JSON.parse(m.toString()).type === "ping" && ws.send('{"type":"pong"}'));
  return ws;
}

const trace = process.env.TRACE === "1";
let seqBase = 0;
async function run(mode, query = "") {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Performance.enable");
  await page.goto(`${pages}/bench/index.html?mode=${mode}${query}&ws=${encodeURIComponent(`ws://${addr}`)}`);
  await page.waitForFunction(() => window.__bench.ready, null, { timeout: 15_000 });
  const metrics = async () => Object.fromEntries((await cdp.send("Performance.getMetrics")).metrics.map((m) => [m.name, m.value]));
  const heap = async () => {
    await cdp.send("HeapProfiler.collectGarbage");
    return (await metrics()).JSHeapUsedSize / 2 ** 20;
  };
  const heapBefore = await heap();
  if (trace) await startTrace(cdp);
  const pub = await publisher();
  const start = await metrics();
  const t0 = performance.now();
  let sent = 0;
  const total = RATE * SECONDS;
  await new Promise((done) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * RATE));
      for (; sent < due; sent++) {
        const seq = seqBase + sent + 1;
        pub.send(JSON.stringify({ type: "publish", channel: "metrics", event: "metrics_update", data: { seq, cpu: Math.random(), mem: 1000 + (seq % 97) } }));
      }
      if (sent >= total) {
        clearInterval(timer);
        done();
      }
    }, 10);
  });
  const wall = (performance.now() - t0) / 1000;
  const end = await metrics();
  const breakdown = trace ? await endTrace(cdp, wall) : undefined;
  // Drain: wait until everything arrived (or 15 s).
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && (await page.evaluate(() => window.__bench.received)) < total) await new Promise((r) => setTimeout(r, 100));
  const b = await page.evaluate(() => window.__bench);
  const distinct = await page.evaluate(([from, to]) => window.__distinct(from, to), [seqBase + 1, seqBase + total]);
  const heapAfter = await heap();
  pub.close();
  await page.close();
  seqBase += total;
  return {
    mode,
    sent: total,
    rate: Math.round(total / wall),
    received: b.received,
    // Frames the bare-WebSocket pages read (the client's own are not counted).
    frames: b.frames,
    lost: total - distinct,
    repeats: b.repeats,
    inversions: b.offsetInversions,
    reconnects: b.reconnects,
    busy: (100 * (end.TaskDuration - start.TaskDuration)) / wall,
    script: (100 * (end.ScriptDuration - start.ScriptDuration)) / wall,
    layout: (100 * (end.LayoutDuration - start.LayoutDuration + end.RecalcStyleDuration - start.RecalcStyleDuration)) / wall,
    other: (100 * (end.TaskOtherDuration - start.TaskOtherDuration)) / wall,
    // CPU time, not wall time: a task preempted by other processes on a
    // loaded machine counts only for what it ran.
    cpu: end.ThreadTime === undefined ? NaN : (100 * (end.ThreadTime - start.ThreadTime)) / wall,
    process: end.ProcessTime === undefined ? NaN : (100 * (end.ProcessTime - start.ProcessTime)) / wall,
    heapBefore,
    heapAfter,
    breakdown,
  };
}

// Tracing (TRACE=1): the renderer main thread's self time per trace event
// name, as % of the wall time of the publishing period.
async function startTrace(cdp) {
  await cdp.send("Tracing.start", {
    transferMode: "ReturnAsStream",
    traceConfig: { includedCategories: ["devtools.timeline", "disabled-by-default-devtools.timeline", "v8", "blink", "cc", "toplevel"] },
  });
}

async function endTrace(cdp, wall) {
  const done = new Promise((r) => cdp.once("Tracing.tracingComplete", r));
  await cdp.send("Tracing.end");
  const { stream } = await done;
  let text = "";
  for (;;) {
    const chunk = await cdp.send("IO.read", { handle: stream, size: 1 << 22 });
    text += chunk.base64Encoded ? Buffer.from(chunk.data, "base64").toString() : chunk.data;
    if (chunk.eof) break;
  }
  await cdp.send("IO.close", { handle: stream });
  const events = JSON.parse(text).traceEvents ?? JSON.parse(text);
  // The page's main thread: of the renderer main threads traced, the busiest.
  const mains = new Set(events.filter((e) => e.name === "thread_name" && e.args?.name === "CrRendererMain").map((e) => `${e.pid}:${e.tid}`));
  const byThread = new Map();
  for (const e of events) {
    const key = `${e.pid}:${e.tid}`;
    if (e.ph !== "X" || !(e.dur > 0) || !mains.has(key)) continue;
    if (!byThread.has(key)) byThread.set(key, []);
    byThread.get(key).push(e);
  }
  const total = (es) => es.reduce((a, e) => a + e.dur, 0);
  const spans = [...byThread.values()].sort((a, b) => total(b) - total(a))[0]?.sort((a, b) => a.ts - b.ts || b.dur - a.dur) ?? [];
  // Self time: a span's duration minus its children's (spans nest on one thread).
  const self = new Map();
  const stack = [];
  for (const e of spans) {
    while (stack.length && stack.at(-1).ts + stack.at(-1).dur <= e.ts) stack.pop();
    const parent = stack.at(-1);
    if (parent) self.set(parent.name, (self.get(parent.name) ?? 0) - e.dur);
    self.set(e.name, (self.get(e.name) ?? 0) + e.dur);
    stack.push(e);
  }
  return [...self].map(([name, us]) => [name, us / 1e4 / wall]).filter(([, pct]) => pct >= 0.2).sort((a, b) => b[1] - a[1]);
}

try {
  // Each round runs the baseline and every variant once, one after the
  // other; the busy ratio of a variant is taken against the baseline of its
  // own round (the machine is shared: its load moves between rounds), and
  // the table shows the median over rounds.
  const variants = [
    ["baseline (raw WS)", "raw", ""],
    ["raw WS, batched", "raw", "&batch=1"],
    ["useChannel, table", "react", ""],
    ["table, batch off", "react", "&batch=0"],
    ["useChannel, text", "react", "&view=text"],
    ["table, every frame", "react", "&interval=0"],
    ["text, every frame", "react", "&view=text&interval=0"],
    ["plain table, every frame", "react", "&view=plain&interval=0"],
    ["table, rows kept", "react", "&view=kept"],
  ].filter(([name], i) => i === 0 || !process.env.ONLY || process.env.ONLY.split(";").includes(name));
  const rounds = [];
  for (let round = 0; round < ROUNDS; round++) {
    const runs = [];
    for (const [, mode, query] of variants) runs.push(await run(mode, query));
    rounds.push(runs);
    console.log(`round ${round + 1}/${ROUNDS}, busy % (main-thread CPU %): ${runs.map((r, i) => `${variants[i][0]} ${r.busy.toFixed(1)} (${r.cpu.toFixed(1)})`).join(", ")}; load average ${loadavg()[0].toFixed(1)}`);
  }
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  // Per variant: counts summed over rounds, percentages and heap as medians.
  const summary = variants.map((_, v) => {
    const rs = rounds.map((runs) => runs[v]);
    const med = (f) => median(rs.map(f));
    return {
      sent: rs.reduce((a, r) => a + r.sent, 0),
      received: rs.reduce((a, r) => a + r.received, 0),
      frames: rs.reduce((a, r) => a + r.frames, 0),
      lost: rs.reduce((a, r) => a + r.lost, 0),
      repeats: rs.reduce((a, r) => a + r.repeats, 0),
      inversions: rs.reduce((a, r) => a + r.inversions, 0),
      reconnects: rs.reduce((a, r) => a + r.reconnects, 0),
      rate: med((r) => r.rate),
      busy: med((r) => r.busy),
      script: med((r) => r.script),
      layout: med((r) => r.layout),
      other: med((r) => r.other),
      cpu: med((r) => r.cpu),
      process: med((r) => r.process),
      cpuRatio: median(rounds.map((runs) => runs[v].cpu / runs[0].cpu)),
      cpuAdded: median(rounds.map((runs) => runs[v].cpu - runs[0].cpu)),
      perRoundCpu: rs.map((r) => r.cpu),
      heapBefore: med((r) => r.heapBefore),
      heapAfter: med((r) => r.heapAfter),
      heapGrowth: Math.max(...rs.map((r) => Math.abs(r.heapAfter - r.heapBefore))),
      ratio: median(rounds.map((runs) => runs[v].busy / runs[0].busy)),
      added: median(rounds.map((runs) => runs[v].busy - runs[0].busy)),
      perRound: rs.map((r) => r.busy),
    };
  });
  const names = variants.map((v) => v[0]);
  const row = (name, f) => console.log(`${name.padEnd(34)}${summary.map((r) => String(f(r)).padStart(26)).join("")}`);
  console.log(
    `\n${RATE} events/s for ${SECONDS} s into one tab, ${ROUNDS} round(s); server ${serverBin.includes("release") ? "release" : "debug"} build; Chromium headless; ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(1)).join(" ")}`,
  );
  row("", (r) => names[summary.indexOf(r)]);
  row("events sent / received", (r) => `${r.sent} / ${r.received}`);
  row("achieved rate (events/s, median)", (r) => r.rate);
  row("events per frame (bare WebSocket)", (r) => (r.frames ? (r.received / r.frames).toFixed(2) : "-"));
  row("lost / repeated", (r) => `${r.lost} / ${r.repeats}`);
  row("offset inversions", (r) => r.inversions);
  row("reconnects", (r) => r.reconnects);
  row("main-thread busy % (median)", (r) => r.busy.toFixed(1));
  row("  each round", (r) => r.perRound.map((b) => b.toFixed(1)).join(" / "));
  row("  of which script %", (r) => r.script.toFixed(1));
  row("  of which style+layout %", (r) => r.layout.toFixed(1));
  row("  of which other %", (r) => r.other.toFixed(1));
  row("busy / baseline (median of rounds)", (r) => `${r.ratio.toFixed(2)}x`);
  row("busy over baseline (points)", (r) => (r.added >= 0 ? "+" : "") + r.added.toFixed(1));
  row("main-thread CPU % (median)", (r) => r.cpu.toFixed(1));
  row("  each round", (r) => r.perRoundCpu.map((b) => b.toFixed(1)).join(" / "));
  row("CPU / baseline (median of rounds)", (r) => `${r.cpuRatio.toFixed(2)}x`);
  row("CPU over baseline (points)", (r) => (r.cpuAdded >= 0 ? "+" : "") + r.cpuAdded.toFixed(1));
  row("renderer process CPU % (median)", (r) => r.process.toFixed(1));
  row("JS heap before (MB, median)", (r) => r.heapBefore.toFixed(2));
  row("JS heap after (MB, median)", (r) => r.heapAfter.toFixed(2));
  row("largest heap change (MB)", (r) => r.heapGrowth.toFixed(2));
  row("targets (0 lost, <30 % busy, ±5 MB)", (r) => (r.lost === 0 && r.repeats === 0 && r.busy < 30 && r.heapGrowth <= 5 ? "met" : "NOT met"));
  if (trace) {
    console.log("\nmain-thread self time by trace event (% of wall time, first round; events >= 0.2 %):");
    for (const [i, [name]] of variants.entries()) {
      const b = rounds[0][i].breakdown ?? [];
      console.log(`  ${name}: ${b.map(([n, pct]) => `${n} ${pct.toFixed(1)}`).join(", ")}`);
    }
  }
} finally {
  await context.close();
  server.kill("SIGTERM");
  http.close();
  rmSync(profile, { recursive: true, force: true });
  rmSync(dist, { recursive: true, force: true });
}
