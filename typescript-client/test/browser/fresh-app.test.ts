// The "Done means", as a new user does it: the two packed tarballs
// installed into a fresh Vite 8 React app and a fresh Vite 8 Vue app outside
// the workspace (temp dirs; what `npm create vite@latest` (create-vite 9)
// installs for react-ts and vue-ts, from npm, offline cache preferred), the
// MissionDashboard and the Vue Single-File Component of docs/clients.md
// copied as printed (only the server URL taken from the page's `?ws=`),
// type-checked as the templates' `npm run build` does (`tsc`, `vue-tsc`)
// under the templates' tsconfig.app.json (with skipLibCheck off, so that the
// packages' .d.ts are checked too), built with `vite build`, served, and both
// opened in headless Chromium against one Redis-backed node. The node is
// killed while events are published through a second node, restarted on the
// same port, and each page must list every event exactly once, in order.
//
// Needs Chromium (CHROMIUM, default /usr/bin/chromium), the server binary
// and Redis on 127.0.0.1:6379 (a unique key prefix per run).

import { execFileSync } from "node:child_process";
import type { Server } from "node:http";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { launchChromium, serveDir } from "./chromium.js";
import { broadcast, sleep, startServer, stopAllServers, waitFor } from "../harness.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const prefix = `brain-ws-client-fresh-app-${process.pid}-${Date.now()}`;
const redisArgs = ["--broker", "redis://127.0.0.1:6379/0", "--redis-prefix", prefix];
const work = mkdtempSync(join(tmpdir(), "brain-ws-fresh-vite-apps-"));
const apps = { react: join(work, "react"), vue: join(work, "vue") } as const;

const https: Server[] = [];
const pageUrl = { react: "", vue: "" };
let context: BrowserContext;

// A user's shell: not vitest's NODE_ENV=test (Vite would bundle React's development build).
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "NODE_ENV" && !k.startsWith("VITEST")));
const run = (cmd: string, args: string[], cwd: string) => {
  try {
    return execFileSync(cmd, args, { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const { stdout, stderr } = e as { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(" ")} failed:\n${stdout}\n${stderr}`);
  }
};
const pageWs = `new URLSearchParams(location.search).get("ws")!`;

/** A fresh app in `dir`: the tarballs and `deps` installed, `files` written, type-checked with `typecheck`, `vite build` into `dist`. */
function freshApp(dir: string, tarballs: string[], deps: string[], files: Record<string, string>, typecheck: string[]): void {
  mkdirSync(join(dir, "src"), { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: `fresh-${dir.split("/").at(-1)}`, private: true, type: "module" }));
  run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--silent", ...tarballs.map((t) => join(work, t)), ...deps], dir);
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  run(typecheck[0]!, [...typecheck.slice(1), "-p", "tsconfig.app.json"], dir);
  run(join(dir, "node_modules/.bin/vite"), ["build", "--logLevel", "warn", "--outDir", join(work, "dist", dir.split("/").at(-1)!)], dir);
}

/** create-vite 9's tsconfig.app.json "Linting" options (react-ts and vue-ts), and skipLibCheck off. */
const strictness = { noUnusedLocals: true, noUnusedParameters: true, erasableSyntaxOnly: true, noFallthroughCasesInSwitch: true, skipLibCheck: false };
const tsconfig = (options: object, include: string[], base: object = {}) =>
  JSON.stringify({ ...base, compilerOptions: { ...options, ...strictness }, include }, null, 2);

const html = (entry: string, root: string) =>
  `<!doctype html>\n<html><head><meta charset="UTF-8" /><title>missions</title></head>\n<body><div id="${root}"></div><script type="module" src="${entry}"></script></body></html>\n`;

/** The code blocks of a given language in docs/clients.md, in order. */
function blocks(lang: string): string[] {
  const docs = readFileSync(join(root, "docs/clients.md"), "utf8");
  return [...docs.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]!);
}

beforeAll(async () => {
  run("npm", ["pack", "--silent", "--pack-destination", work, "-w", "@brain/ws-protocol", "-w", "@brain/ws-client"], root);
  const tarballs = readdirSync(work).filter((f) => f.endsWith(".tgz")).sort();
  expect(tarballs).toEqual(["brain-ws-client-0.1.0.tgz", "brain-ws-protocol-0.1.0.tgz"]);
  const ordered = [tarballs[1]!, tarballs[0]!];

  // React: what `npm create vite@latest -- --template react-ts` (create-vite
  // 9: Vite 8, TypeScript 7) sets up, minus linting, with the dashboard
  // exactly as docs/clients.md prints it. The workspace's TypeScript is the
  // template's (~7.0).
  const dashboard = blocks("tsx")[0]!;
  expect(dashboard).toContain(`createClient({ url: "ws://localhost:8000" })`);
  expect(dashboard.split("\n").filter((l) => l.trim()).length).toBeLessThanOrEqual(16);
  freshApp(apps.react, ordered, ["react@19", "react-dom@19", "@types/react@19", "@types/react-dom@19", "vite@8", "@vitejs/plugin-react@6"], {
    "vite.config.js": `import { defineConfig } from "vite";\nimport react from "@vitejs/plugin-react";\nexport default defineConfig({ plugins: [react()] });\n`,
    "tsconfig.app.json": tsconfig({
      target: "es2023", lib: ["ES2023", "DOM"], module: "esnext", types: ["vite/client"], allowArbitraryExtensions: true,
      moduleResolution: "bundler", allowImportingTsExtensions: true, verbatimModuleSyntax: true, moduleDetection: "force", noEmit: true, jsx: "react-jsx",
    }, ["src"]),
    "index.html": html("/src/main.tsx", "root"),
    "src/main.tsx": `import { StrictMode } from "react";\nimport { createRoot } from "react-dom/client";\nimport App from "./App.tsx";\n\ncreateRoot(document.getElementById("root")!).render(<StrictMode><App /></StrictMode>);\n`,
    "src/App.tsx": dashboard.replace(`"ws://localhost:8000"`, pageWs),
  }, [process.execPath, join(root, "node_modules/typescript/bin/tsc")]);

  // Vue: what `npm create vite@latest -- --template vue-ts` (create-vite 9:
  // Vite 8, TypeScript 6 for vue-tsc) sets up, with main.ts and App.vue as
  // docs/clients.md prints them.
  const main = blocks("ts").find((b) => b.startsWith("// main.ts\n"));
  const sfc = blocks("vue").find((b) => b.startsWith("<!-- App.vue -->\n"));
  expect(main).toContain(`createClient({ url: "ws://localhost:8000" })`);
  expect(sfc).toContain(`useChannel("missions", { limit: 100 })`);
  freshApp(apps.vue, ordered, ["vue@3", "vite@8", "@vitejs/plugin-vue@6", "vue-tsc@3", "typescript@~6.0", "@vue/tsconfig@0.9"], {
    "vite.config.js": `import { defineConfig } from "vite";\nimport vue from "@vitejs/plugin-vue";\nexport default defineConfig({ plugins: [vue()] });\n`,
    "tsconfig.app.json": tsconfig({ types: ["vite/client"], allowArbitraryExtensions: true }, ["src/**/*.ts", "src/**/*.tsx", "src/**/*.vue"], {
      extends: "@vue/tsconfig/tsconfig.dom.json",
    }),
    "index.html": html("/src/main.ts", "app"),
    "src/main.ts": main!.replace(`"ws://localhost:8000"`, pageWs),
    "src/App.vue": sfc!,
  }, [join(apps.vue, "node_modules/.bin/vue-tsc")]);

  for (const kind of ["react", "vue"] as const) {
    const { server, origin } = await serveDir(join(work, "dist", kind));
    https.push(server);
    pageUrl[kind] = `${origin}/index.html`;
  }
  context = await launchChromium(join(work, "profile"));
}, 300_000);

afterAll(async () => {
  await context?.close();
  for (const server of https) await new Promise((r) => server.close(r));
  await stopAllServers();
  rmSync(work, { recursive: true, force: true });
});

test("fresh Vite React and Vue apps with the docs' MissionDashboard and Vue SFC survive server restarts without losing or repeating an event", async () => {
  let node = await startServer(redisArgs);
  const other = await startServer(redisArgs);
  const errors: string[] = [];
  const pages = await Promise.all(
    (["react", "vue"] as const).map(async (kind) => {
      const page = await context.newPage();
      page.on("pageerror", (e) => errors.push(`${kind}: ${e.message}`));
      page.on("console", (m) => {
        if (!/^(WebSocket connection to .* failed|Failed to load resource: (.*404|net::ERR_CONNECTION_REFUSED))/.test(m.text())) errors.push(`${kind}: console.${m.type()}: ${m.text()}`);
      });
      return { kind, page };
    }),
  );
  const status = async (page: Page) => (await page.textContent("h2")) ?? "";
  const items = (page: Page) => page.$$eval("li", (lis) => lis.map((li) => li.textContent ?? ""));
  const every = async (f: (page: Page) => Promise<boolean>) => (await Promise.all(pages.map(({ page }) => f(page)))).every(Boolean);
  const missions = (ids: number[]) => ids.map((i) => `mission_started: {"mission_id":"m${i}"}`);
  try {
    for (const { page, kind } of pages) await page.goto(`${pageUrl[kind]}?ws=${encodeURIComponent(node.ws)}`);
    await waitFor(() => every(async (p) => (await status(p)) === "Status: Connected"), 15_000, "Status: Connected");
    // The subscribe follows `connected` on the wire: wait until the node has both.
    await waitFor(async () => (await (await fetch(`${node.http}/api/ws/channels/missions`)).json()).subscribers === 2, 10_000, "the subscriptions");
    for (let i = 1; i <= 3; i++) await broadcast(node.http, "missions", "mission_started", { mission_id: `m${i}` });
    await waitFor(() => every(async (p) => (await items(p)).length === 3), 10_000, "3 events");
    for (const { page } of pages) expect(await items(page)).toEqual(missions([1, 2, 3]));

    // Two restarts; events published through the other node while it is down.
    let next = 4;
    for (let restart = 1; restart <= 2; restart++) {
      const port = node.port;
      await node.kill();
      await waitFor(() => every(async (p) => (await status(p)) === "Status: Disconnected"), 10_000, "Status: Disconnected");
      for (let k = 0; k < 3; k++, next++) await broadcast(other.http, "missions", "mission_started", { mission_id: `m${next}` });
      node = await startServer(redisArgs, port);
      await waitFor(() => every(async (p) => (await status(p)) === "Status: Connected"), 20_000, `Status: Connected after restart ${restart}`);
      const want = next - 1;
      await waitFor(() => every(async (p) => (await items(p)).length >= want), 10_000, `${want} events after restart ${restart}`);
      for (let k = 0; k < 2; k++, next++) await broadcast(other.http, "missions", "mission_started", { mission_id: `m${next}` });
      const want2 = next - 1;
      await waitFor(() => every(async (p) => (await items(p)).length >= want2), 10_000, `${want2} events`);
    }
    await sleep(300); // a repeat would show up by now
    for (const { page, kind } of pages) expect([kind, await items(page)]).toEqual([kind, missions(Array.from({ length: next - 1 }, (_, i) => i + 1))]);
    expect(errors).toEqual([]);
  } finally {
    for (const { page } of pages) await page.close();
    await stopAllServers();
  }
});
