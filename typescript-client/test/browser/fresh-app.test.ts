// The "Done means", as a new user does it: the two packed tarballs
// installed into a fresh Vite 7 React app outside the workspace (a temp dir;
// react, react-dom, vite and @vitejs/plugin-react from npm, offline cache
// preferred), the MissionDashboard of docs/clients.md copied as printed
// (only its server URL taken from the page's `?ws=`), built with `vite
// build`, served, and opened in headless Chromium against a Redis-backed
// node. The node is killed while events are published through a second
// node, restarted on the same port, and the page must list every event
// exactly once, in order.
//
// Needs Chromium (CHROMIUM, default /usr/bin/chromium), the server binary
// and Redis on 127.0.0.1:6379 (a unique key prefix per run).

import { execFileSync } from "node:child_process";
import type { Server } from "node:http";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BrowserContext } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { launchChromium, serveDir } from "./chromium.js";
import { broadcast, sleep, startServer, stopAllServers, waitFor } from "../harness.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const prefix = `brain-ws-client-fresh-app-${process.pid}-${Date.now()}`;
const redisArgs = ["--broker", "redis://127.0.0.1:6379/0", "--redis-prefix", prefix];
const app = mkdtempSync(join(tmpdir(), "brain-ws-fresh-vite-app-"));

let http: Server;
let pageUrl: string;
let context: BrowserContext;

// A user's shell: not vitest's NODE_ENV=test (Vite would bundle React's development build).
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "NODE_ENV" && !k.startsWith("VITEST")));
const run = (cmd: string, args: string[], cwd = app) => {
  try {
    return execFileSync(cmd, args, { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const { stdout, stderr } = e as { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(" ")} failed:\n${stdout}\n${stderr}`);
  }
};

beforeAll(async () => {
  // What `npm create vite@7 -- --template react-ts` sets up, minus linting.
  run("npm", ["pack", "--silent", "--pack-destination", app, "-w", "@brain/ws-protocol", "-w", "@brain/ws-client"], root);
  const tarballs = readdirSync(app).filter((f) => f.endsWith(".tgz")).sort();
  expect(tarballs).toEqual(["brain-ws-client-0.1.0.tgz", "brain-ws-protocol-0.1.0.tgz"]);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "fresh-dashboard", private: true, type: "module" }));
  run("npm", [
    "install", "--prefer-offline", "--no-audit", "--no-fund", "--silent",
    `./${tarballs[1]}`, `./${tarballs[0]}`, "react@19", "react-dom@19", "vite@7", "@vitejs/plugin-react@5",
  ]);
  writeFileSync(
    join(app, "vite.config.js"),
    `import { defineConfig } from "vite";\nimport react from "@vitejs/plugin-react";\nexport default defineConfig({ plugins: [react()] });\n`,
  );
  writeFileSync(
    join(app, "index.html"),
    `<!doctype html>\n<html><head><meta charset="UTF-8" /><title>missions</title></head>\n<body><div id="root"></div><script type="module" src="/src/main.tsx"></script></body></html>\n`,
  );
  mkdirSync(join(app, "src"));
  writeFileSync(
    join(app, "src/main.tsx"),
    `import { StrictMode } from "react";\nimport { createRoot } from "react-dom/client";\nimport { App } from "./App";\n\ncreateRoot(document.getElementById("root")!).render(<StrictMode><App /></StrictMode>);\n`,
  );
  // The dashboard exactly as docs/clients.md prints it, pointed at the test's server.
  const docs = readFileSync(join(root, "docs/clients.md"), "utf8");
  const dashboard = /```tsx\n([\s\S]*?)```/.exec(docs)![1]!;
  expect(dashboard).toContain(`createClient({ url: "ws://localhost:8000" })`);
  expect(dashboard.split("\n").filter((l) => l.trim()).length).toBeLessThanOrEqual(16);
  writeFileSync(
    join(app, "src/App.tsx"),
    dashboard.replace(`"ws://localhost:8000"`, `new URLSearchParams(location.search).get("ws")!`),
  );
  run(join(app, "node_modules/.bin/vite"), ["build", "--logLevel", "warn"]);

  let origin: string;
  ({ server: http, origin } = await serveDir(join(app, "dist")));
  pageUrl = `${origin}/index.html`;
  context = await launchChromium(join(app, "profile"));
}, 240_000);

afterAll(async () => {
  await context?.close();
  await new Promise((r) => http?.close(r));
  await stopAllServers();
  rmSync(app, { recursive: true, force: true });
});

test("a fresh Vite React app with the docs' MissionDashboard survives server restarts without losing or repeating an event", async () => {
  let node = await startServer(redisArgs);
  const other = await startServer(redisArgs);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    if (!/^(WebSocket connection to .* failed|Failed to load resource: (.*404|net::ERR_CONNECTION_REFUSED))/.test(m.text())) errors.push(`console.${m.type()}: ${m.text()}`);
  });
  const status = async () => (await page.textContent("h2")) ?? "";
  const items = () => page.$$eval("li", (lis) => lis.map((li) => li.textContent ?? ""));
  const missions = (ids: number[]) => ids.map((i) => `mission_started: {"mission_id":"m${i}"}`);
  try {
    await page.goto(`${pageUrl}?ws=${encodeURIComponent(node.ws)}`);
    await waitFor(async () => (await status()) === "Status: Connected", 15_000, "Status: Connected");
    // The subscribe follows `connected` on the wire: wait until the node has it.
    await waitFor(async () => (await (await fetch(`${node.http}/api/ws/channels/missions`)).json()).subscribers === 1, 10_000, "the subscription");
    for (let i = 1; i <= 3; i++) await broadcast(node.http, "missions", "mission_started", { mission_id: `m${i}` });
    await waitFor(async () => (await items()).length === 3, 10_000, "3 events");
    expect(await items()).toEqual(missions([1, 2, 3]));

    // Two restarts; events published through the other node while it is down.
    let next = 4;
    for (let restart = 1; restart <= 2; restart++) {
      const port = node.port;
      await node.kill();
      await waitFor(async () => (await status()) === "Status: Disconnected", 10_000, "Status: Disconnected");
      for (let k = 0; k < 3; k++, next++) await broadcast(other.http, "missions", "mission_started", { mission_id: `m${next}` });
      node = await startServer(redisArgs, port);
      await waitFor(async () => (await status()) === "Status: Connected", 20_000, `Status: Connected after restart ${restart}`);
      await waitFor(async () => (await items()).length >= next - 1, 10_000, `${next - 1} events after restart ${restart}`);
      for (let k = 0; k < 2; k++, next++) await broadcast(other.http, "missions", "mission_started", { mission_id: `m${next}` });
      await waitFor(async () => (await items()).length >= next - 1, 10_000, `${next - 1} events`);
    }
    await sleep(300); // a repeat would show up by now
    expect(await items()).toEqual(missions(Array.from({ length: next - 1 }, (_, i) => i + 1)));
    expect(errors).toEqual([]);
  } finally {
    await page.close();
    await stopAllServers();
  }
});
