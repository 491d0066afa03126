// Real browser: the React and Vue test pages (built with Vite, React in its
// development build so StrictMode double-mounts) in headless Chromium
// driven by playwright-core, against real brain-ws-server nodes sharing
// Redis. Each page shows live mission events from HTTP broadcasts; the
// test kills the page's server, publishes through another node meanwhile,
// restarts it on the same port, and checks that the page went reconnecting
// → connected and shows every event once, in order.
//
// Needs Chromium (CHROMIUM, default /usr/bin/chromium) and Redis on
// 127.0.0.1:6379 (a unique key prefix per run). `npm run test:browser`.

import { createServer, type Server } from "node:http";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { broadcast, sleep, startServer, stopAllServers, waitFor, type RunningServer } from "../harness.js";

const here = fileURLToPath(new URL(".", import.meta.url));
const dist = resolve(here, "dist");
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const prefix = `brain-ws-client-browser-${process.pid}-${Date.now()}`;
const redisArgs = (kind: string) => ["--broker", "redis://127.0.0.1:6379/0", "--redis-prefix", `${prefix}-${kind}`];

let http: Server;
let pagesUrl: string;
let context: BrowserContext;
let profile: string;

const TYPES: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css" };

beforeAll(async () => {
  process.env.NODE_ENV = "development"; // React's development build: StrictMode double-mounts
  await build({ configFile: resolve(here, "vite.config.mjs"), mode: "development" });
  http = createServer((req, res) => {
    const path = resolve(dist, `.${new URL(req.url ?? "/", "http://x").pathname}`);
    if (!path.startsWith(dist) || !statSync(path, { throwIfNoEntry: false })?.isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": TYPES[extname(path)] ?? "application/octet-stream" }).end(readFileSync(path));
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  pagesUrl = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
  profile = mkdtempSync(join(tmpdir(), "brain-ws-client-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}, 120_000);

afterAll(async () => {
  await context?.close();
  await new Promise((r) => http?.close(r));
  rmSync(profile, { recursive: true, force: true });
  await stopAllServers();
});

async function text(page: Page, selector: string): Promise<string> {
  return (await page.textContent(selector)) ?? "";
}

async function items(page: Page): Promise<string[]> {
  return page.$$eval("#missions li", (lis) => lis.map((li) => li.textContent ?? ""));
}

const started = (ids: number[]) => ids.map((i) => `mission_started: m${i}`);

describe.each(["react", "vue"])("%s page", (kind) => {
  test("live events; survives a server restart without losing or repeating one", async () => {
    let node = await startServer(redisArgs(kind));
    const other = await startServer(redisArgs(kind));
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    // Every console message counts (the client logs nothing without a logger)
    // except Chromium's own reports of refused connections and the missing
    // favicon, and React's development-build DevTools hint.
    const browserOwn = /^(WebSocket connection to .* failed|Failed to load resource: .*404)|React DevTools/;
    page.on("console", (m) => {
      if (!browserOwn.test(m.text())) errors.push(`console.${m.type()}: ${m.text()}`);
    });
    try {
      await page.goto(`${pagesUrl}/${kind}/index.html?ws=${encodeURIComponent(node.ws)}`);
      await waitFor(async () => (await text(page, "#state")) === "connected" && (await text(page, "#status")) === "subscribed", 15_000, "connected and subscribed");
      // StrictMode's mount-unmount-mount (React) leaves exactly one subscription on the wire.
      const subscribes = async () =>
        (await page.evaluate(() => (window as unknown as { __sent: string[] }).__sent)).map((f) => JSON.parse(f)).filter((m) => m.type !== "pong");
      expect(await subscribes()).toEqual([{ type: "subscribe", channel: "missions" }]);
      expect(await (await fetch(`${node.http}/api/ws/channels/missions`)).json()).toMatchObject({ subscribers: 1 });

      for (let i = 1; i <= 3; i++) await broadcast(node.http, "missions", "mission_started", { mission_id: `m${i}` });
      await waitFor(async () => (await items(page)).length === 3, 10_000, "3 events on the page");
      expect(await items(page)).toEqual(started([1, 2, 3]));

      const port = node.port;
      await node.kill();
      await waitFor(async () => (await text(page, "#state")) === "reconnecting", 10_000, "the page to show reconnecting");
      for (let i = 4; i <= 6; i++) await broadcast(other.http, "missions", "mission_started", { mission_id: `m${i}` });
      await sleep(300);
      node = await startServer(redisArgs(kind), port);
      await waitFor(async () => (await text(page, "#state")) === "connected" && (await text(page, "#recovered")) === "true", 15_000, "connected again, recovered");
      for (let i = 7; i <= 8; i++) await broadcast(other.http, "missions", "mission_started", { mission_id: `m${i}` });
      await waitFor(async () => (await items(page)).length >= 8, 10_000, "8 events on the page");
      await sleep(300);
      expect(await items(page)).toEqual(started([1, 2, 3, 4, 5, 6, 7, 8]));
      if (kind === "react") expect(await text(page, "#count")).toBe("8");

      const states = await page.evaluate(() => (window as unknown as { __states: string[] }).__states);
      expect(states[0]).toBe("connecting");
      expect(states.slice(1, 3)).toEqual(["connected", "reconnecting"]);
      expect(states.at(-1)).toBe("connected");
      expect(states.filter((s) => s === "connected").length).toBe(2);
      const frames = await subscribes();
      expect(frames.length).toBe(2);
      expect(frames[1]).toMatchObject({ type: "subscribe", channel: "missions", since: { offset: 3 } });
      expect(errors).toEqual([]);
    } finally {
      await page.close();
      await stopAllServers();
    }
  });
});
