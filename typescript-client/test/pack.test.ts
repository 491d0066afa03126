// The packed tarballs install into a fresh project and import by name under
// TypeScript moduleResolution "bundler" and "node16", and from plain
// JavaScript (Node, ESM); every ts/tsx snippet printed in docs/clients.md and
// the package README (the MissionDashboard among them) compiles against them.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, test } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const tsc = join(root, "node_modules/typescript/bin/tsc");
const dir = mkdtempSync(join(tmpdir(), "brain-ws-pack-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (cmd: string, args: string[], cwd = dir) =>
  execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

const consumer = `
import { CLOSE_CODES, isControl, shouldReconnect, type ServerMessage, type MissionEvent } from "@brain/ws-protocol";
import { BrainWsError, createClient, type SubscribedInfo } from "@brain/ws-client";
import { BrainWsProvider, useChannel } from "@brain/ws-client/react";
import { useChannel as useVueChannel } from "@brain/ws-client/vue";
const msg: ServerMessage = { type: "ping", timestamp: 1 };
const terminal: boolean = !shouldReconnect(CLOSE_CODES.unauthorized) && isControl(msg);
const event: MissionEvent = { type: "mission_started", data: { mission_id: "m1" } };
declare const info: SubscribedInfo;
export const all = [terminal, event, info.recovered, BrainWsError, createClient, BrainWsProvider, useChannel, useVueChannel];
// @ts-expect-error a wrong field of a catalogue event
export const wrong: MissionEvent = { type: "mission_started", data: { mission: "m1" } };
`;

test("npm pack → install in a fresh project → import under bundler, node16 and plain JS", { timeout: 180_000 }, () => {
  run("npm", ["pack", "--silent", "--pack-destination", dir, "-w", "@brain/ws-protocol", "-w", "@brain/ws-client"], root);
  const tarballs = readdirSync(dir).filter((f) => f.endsWith(".tgz")).sort();
  expect(tarballs).toEqual(["brain-ws-client-0.1.0.tgz", "brain-ws-protocol-0.1.0.tgz"]);
  const listing = run("tar", ["-tzf", join(dir, "brain-ws-client-0.1.0.tgz")]);
  for (const f of ["package/dist/index.js", "package/dist/index.d.ts", "package/dist/react.js", "package/dist/vue.d.ts"]) {
    expect(listing).toContain(f);
  }
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  run("npm", [
    "install", "--prefer-offline", "--no-audit", "--no-fund", "--silent",
    `./${tarballs[1]}`, `./${tarballs[0]}`, "ws@8", "@types/ws@8", "react@19", "@types/react@19", "vue@3",
  ]);
  writeFileSync(join(dir, "consumer.ts"), consumer);
  // Every ts and tsx block of docs/clients.md and the package README, as
  // printed there, each its own module: the snippets are self-contained
  // (nothing undefined such as an `auth` or a `reload()`), and correct.
  // The README's MissionDashboard and Vue example are docs/clients.md's, which
  // test/browser/fresh-app.test.ts builds and runs in fresh Vite apps.
  const examples = (doc: string) =>
    [...readFileSync(join(root, doc), "utf8").matchAll(/```(tsx|vue|ts)\n([\s\S]*?)```/g)]
      .filter(([, lang, code]) => lang !== "ts" || code!.startsWith("// main.ts\n"))
      .map(([, , code]) => code);
  expect(examples("typescript-client/README.md")).toEqual(examples("docs/clients.md"));
  expect(examples("docs/clients.md")).toHaveLength(3);
  const files = ["consumer.ts", "vue-shim.d.ts"];
  writeFileSync(join(dir, "vue-shim.d.ts"), `declare module "*.vue" {\n  import type { DefineComponent } from "vue";\n  const component: DefineComponent;\n  export default component;\n}\n`);
  for (const [doc, name] of [["docs/clients.md", "docs"], ["typescript-client/README.md", "readme"]] as const) {
    const found = [...readFileSync(join(root, doc), "utf8").matchAll(/```(tsx?)\n([\s\S]*?)```/g)];
    expect(found.filter((m) => m[1] === "tsx").length, `the MissionDashboard (tsx) in ${doc}`).toBe(1);
    expect(found.filter((m) => m[1] === "ts").length, `ts blocks in ${doc}`).toBeGreaterThanOrEqual(2);
    found.forEach(([, lang, code], i) => {
      const file = `snippet-${name}-${i + 1}.${lang}`;
      writeFileSync(join(dir, file), code!);
      files.push(file);
    });
  }
  const base = { strict: true, noEmit: true, target: "es2022", lib: ["es2022", "dom", "dom.asynciterable"], types: [], skipLibCheck: false, jsx: "react-jsx" };
  for (const [name, options] of [
    ["bundler", { module: "esnext", moduleResolution: "bundler" }],
    ["node16", { module: "node16", moduleResolution: "node16" }],
  ] as const) {
    writeFileSync(join(dir, `tsconfig.${name}.json`), JSON.stringify({ compilerOptions: { ...base, ...options }, files }));
    try {
      run("node", [tsc, "-p", `tsconfig.${name}.json`]);
    } catch (e) {
      throw new Error(`tsc (${name}) failed:\n${(e as { stdout?: string }).stdout}`);
    }
  }
  writeFileSync(
    join(dir, "plain.mjs"),
    `import { shouldReconnect, CLOSE_CODES, PROTOCOL_VERSION } from "@brain/ws-protocol";
import { createClient, DEFAULTS } from "@brain/ws-client";
import WebSocket from "ws";
const c = createClient({ url: "ws://127.0.0.1:9", WebSocket });
c.close();
console.log(JSON.stringify([PROTOCOL_VERSION, shouldReconnect(CLOSE_CODES.going_away), shouldReconnect(4500), c.state, DEFAULTS.backoff]));
`,
  );
  expect(JSON.parse(run("node", ["plain.mjs"]))).toEqual([
    "brain.v1",
    true,
    false,
    "closed",
    { initialMs: 500, maxMs: 30000, factor: 2, jitter: true, resetAfterMs: 10000 },
  ]);
});
