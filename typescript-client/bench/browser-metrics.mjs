// Benchmark (a program, not a test): 5,000 events/s for 10 s into one
// headless Chromium tab through useChannel("metrics", { limit: 100 }) (React
// production build), against a baseline tab with a bare WebSocket that only
// parses and counts. Prints lost/repeated events, main-thread busy % (CDP
// TaskDuration over wall time) and JS heap before/after (after a forced GC),
// side by side, with ratios. Results go to docs/benchmarks.md by hand.
//
//   npm run build && cargo build [--release] -p brain-ws-server
//   npm run bench:browser -w @brain/ws-client     [RATE=5000 SECONDS=10 SERVER=path]
//
// Events are published by a Node WebSocket client (client publish on
// `metrics`, rate limit lifted) in 10 ms batches, so the publisher costs
// little; the server is the release build when target/release has one.

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { build } from "vite";
import WebSocket from "ws";

const here = fileURLToPath(new URL(".", import.meta.url));
const root = resolve(here, "../..");
const RATE = Number(process.env.RATE ?? 5000);
const SECONDS = Number(process.env.SECONDS ?? 10);
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
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
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
    lost: total - distinct,
    repeats: b.repeats,
    inversions: b.offsetInversions,
    reconnects: b.reconnects,
    busy: (100 * (end.TaskDuration - start.TaskDuration)) / wall,
    script: (100 * (end.ScriptDuration - start.ScriptDuration)) / wall,
    layout: (100 * (end.LayoutDuration - start.LayoutDuration + end.RecalcStyleDuration - start.RecalcStyleDuration)) / wall,
    other: (100 * (end.TaskOtherDuration - start.TaskOtherDuration)) / wall,
    heapBefore,
    heapAfter,
  };
}

try {
  const variants = [
    ["baseline (raw WS)", "raw", ""],
    ["useChannel, table", "react", ""],
    ["useChannel, text", "react", "&view=text"],
    ["table, minIntervalMs 100", "react", "&interval=100"],
  ];
  const runs = [];
  for (const [, mode, query] of variants) runs.push(await run(mode, query));
  const names = variants.map((v) => v[0]);
  const row = (name, f) => console.log(`${name.padEnd(26)}${runs.map((r) => String(f(r)).padStart(24)).join("")}`);
  console.log(`\n${RATE} events/s for ${SECONDS} s into one tab; server ${serverBin.includes("release") ? "release" : "debug"} build; Chromium headless`);
  row("", (r) => names[runs.indexOf(r)]);
  row("events sent", (r) => r.sent);
  row("achieved rate (events/s)", (r) => r.rate);
  row("events received", (r) => r.received);
  row("lost / repeated", (r) => `${r.lost} / ${r.repeats}`);
  row("offset inversions", (r) => r.inversions);
  row("reconnects", (r) => r.reconnects);
  row("main-thread busy %", (r) => r.busy.toFixed(1));
  row("  of which script %", (r) => r.script.toFixed(1));
  row("  of which style+layout %", (r) => r.layout.toFixed(1));
  row("  of which other %", (r) => r.other.toFixed(1));
  row("JS heap before (MB)", (r) => r.heapBefore.toFixed(2));
  row("JS heap after (MB)", (r) => r.heapAfter.toFixed(2));
  row("heap change (MB)", (r) => (r.heapAfter - r.heapBefore).toFixed(2));
  row("busy / baseline", (r) => `${(r.busy / runs[0].busy).toFixed(2)}x`);
  row("targets (0 lost, <30 %, ±5 MB)", (r) => (r.lost === 0 && r.repeats === 0 && r.busy < 30 && Math.abs(r.heapAfter - r.heapBefore) <= 5 ? "met" : "NOT met"));
} finally {
  await context.close();
  server.kill("SIGTERM");
  http.close();
  rmSync(profile, { recursive: true, force: true });
  rmSync(dist, { recursive: true, force: true });
}
