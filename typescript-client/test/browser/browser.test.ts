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

import type { Server } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { BrowserContext, Page } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { launchChromium, serveDir } from "./chromium.js";
import { broadcast, sleep, startServer, stopAllServers, waitFor, type RunningServer } from "../harness.js";

const here = fileURLToPath(new URL(".", import.meta.url));
const dist = resolve(here, "dist");
const prefix = `brain-ws-client-browser-${process.pid}-${Date.now()}`;
const redisArgs = (kind: string) => ["--broker", "redis://127.0.0.1:6379/0", "--redis-prefix", `${prefix}-${kind}`];

let http: Server;
let pagesUrl: string;
let context: BrowserContext;
let profile: string;

beforeAll(async () => {
  process.env.NODE_ENV = "development"; // React's development build: StrictMode double-mounts
  await build({ configFile: resolve(here, "vite.config.mjs"), mode: "development" });
  ({ server: http, origin: pagesUrl } = await serveDir(dist));
  profile = mkdtempSync(join(tmpdir(), "brain-ws-client-chromium-"));
  context = await launchChromium(profile);
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
    const browserOwn = /^(WebSocket connection to .* failed|Failed to load resource: (.*404|net::ERR_CONNECTION_REFUSED))|React DevTools/;
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
      expect(states.slice(0, 3)).toEqual(["connecting", "connected", "reconnecting"]);
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

test("a changing channel: React's useChannel with a changing prop, Vue's with a ref and a getter, resubscribe and start over", async () => {
  const node = await startServer();
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    if (!/React DevTools|Failed to load resource: .*404/.test(m.text())) errors.push(`console.${m.type()}: ${m.text()}`);
  });
  const feeds = async () => page.$$eval("#react-feed, #vue-ref, #vue-getter", (ps) => ps.map((p) => p.textContent ?? ""));
  const subscribers = async (channel: string) =>
    ((await (await fetch(`${node.http}/api/ws/channels/${channel}`)).json()) as { subscribers: number }).subscribers;
  const send = (channels: string[], n: number) => Promise.all(channels.map((c) => broadcast(node.http, c, "tick", { n })));
  try {
    await page.goto(`${pagesUrl}/switch/index.html?ws=${encodeURIComponent(node.ws)}`);
    await waitFor(async () => (await feeds()).every((f) => f.includes("subscribed")), 15_000, "three subscriptions").catch((e) => {
      throw new Error(`${e.message}; page errors: ${JSON.stringify(errors)}`);
    });
    await send(["alerts:0", "news:0", "sports:0"], 1);
    await waitFor(async () => (await feeds()).every((f) => f.endsWith("/1")), 10_000, "event 1 on each");
    expect(await feeds()).toEqual(["alerts:0: subscribed alerts:0/1", "news:0: subscribed news:0/1", "sports:0: subscribed sports:0/1"]);

    await page.click("#react-next");
    await page.click("#vue-next");
    await waitFor(async () => (await feeds()).every((f) => /:1: subscribed/.test(f)), 10_000, "the next channels subscribed");
    await waitFor(async () => (await subscribers("alerts:0")) + (await subscribers("news:0")) + (await subscribers("sports:0")) === 0, 10_000, "the old channels released");
    await send(["alerts:0", "news:0", "sports:0"], 2); // no longer shown
    await send(["alerts:1", "news:1", "sports:1"], 3);
    await waitFor(async () => (await feeds()).every((f) => f.endsWith("/3")), 10_000, "event 3 on each");
    expect(await feeds()).toEqual(["alerts:1: subscribed alerts:1/3", "news:1: subscribed news:1/3", "sports:1: subscribed sports:1/3"]);
    for (const c of ["alerts:1", "news:1", "sports:1"]) expect(await subscribers(c)).toBe(1);
    const frames = (await page.evaluate(() => (window as unknown as { __sent: string[] }).__sent)).map((f) => JSON.parse(f)).filter((m) => m.type !== "pong");
    expect(frames.filter((m) => m.type === "subscribe").map((m) => m.channel).sort()).toEqual(["alerts:0", "alerts:1", "news:0", "news:1", "sports:0", "sports:1"]);
    expect(frames.filter((m) => m.type === "unsubscribe").map((m) => m.channel).sort()).toEqual(["alerts:0", "news:0", "sports:0"]);
    expect(errors).toEqual([]);
  } finally {
    await page.close();
    await stopAllServers();
  }
});

test("a refused upgrade (401: no token, --auth required) stops the page's client with a typed `refused` error", async () => {
  const node = await startServer(["--auth", "required", "--jwt-secret", "browser-test-secret-0123456789abcdef"]);
  const page = await context.newPage();
  try {
    await page.goto(`${pagesUrl}/vue/index.html?ws=${encodeURIComponent(node.ws)}`);
    const client = () =>
      page.evaluate(() => {
        const c = (window as unknown as { __client: { state: string; error?: { kind: string; code: string; status: number; message: string } } }).__client;
        return { state: c.state, error: c.error && { kind: c.error.kind, code: c.error.code, status: c.error.status, message: c.error.message } };
      });
    await waitFor(async () => (await client()).state === "closed", 10_000, "closed");
    expect(await client()).toEqual({
      state: "closed",
      error: {
        kind: "refused",
        code: "unauthorized",
        status: 401,
        message: "the server refused the connection with HTTP 401 (unauthorized: a token is required); not reconnecting",
      },
    });
    expect(await text(page, "#state")).toBe("closed");
  } finally {
    await page.close();
    await stopAllServers();
  }
});
