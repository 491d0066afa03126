// Test harness: the real brain-ws-server binary on a free port, a private
// redis-server for tests that restart Redis, HTTP helpers, JWT minting.
// Every process started here is killed by its own handle, never by name.

import { spawn, type ChildProcess } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/** The server binary (`cargo build -p brain-ws-server`). */
export const SERVER_BIN = resolve(process.env.CARGO_TARGET_DIR ?? resolve(root, "target"), "debug/brain-ws-server");

export interface RunningServer {
  /** `127.0.0.1:PORT` */
  addr: string;
  port: number;
  ws: string;
  http: string;
  proc: ChildProcess;
  log: () => string;
  /** SIGKILL, then waits for the exit. */
  kill(): Promise<void>;
  /** SIGTERM (graceful: closes with 1001), then waits for the exit. */
  stop(): Promise<void>;
}

const started = new Set<RunningServer>();

/** Starts the server with `args` on `port` (0: a free one) and waits for "listening on". */
export async function startServer(args: string[] = [], port = 0): Promise<RunningServer> {
  if (!existsSync(SERVER_BIN)) throw new Error(`${SERVER_BIN} is missing: cargo build -p brain-ws-server`);
  const proc = spawn(SERVER_BIN, ["--bind", `127.0.0.1:${port}`, "--log-format", "json", ...args], {
    env: { ...process.env, RUST_LOG: "info", NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  const addr = await new Promise<string>((resolveAddr, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not listen within 15 s:\n${out}`)), 15_000);
    const check = () => {
      const m = /listening on (127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        proc.stdout!.off("data", check);
        proc.stderr!.off("data", check);
        resolveAddr(m[1]!);
      }
    };
    proc.stdout!.on("data", check);
    proc.stderr!.on("data", check);
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${out}`));
    });
  });
  const server: RunningServer = {
    addr,
    port: Number(addr.split(":")[1]),
    ws: `ws://${addr}`,
    http: `http://${addr}`,
    proc,
    log: () => out,
    async kill() {
      started.delete(server);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await exited;
    },
    async stop() {
      started.delete(server);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      await exited;
    },
  };
  started.add(server);
  return server;
}

/** Kills every server still running (afterEach/afterAll). */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...started].map((s) => s.kill()));
}

/** A free TCP port on 127.0.0.1 (closed again; a tiny race, fine on loopback). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => res(port));
    });
  });
}

/** A private redis-server without persistence, which the test may stop and start again. */
export interface PrivateRedis {
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function privateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const redis: PrivateRedis = {
    url: `redis://127.0.0.1:${port}/0`,
    async start() {
      proc = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
        stdio: "ignore",
      });
      await waitFor(async () => {
        try {
          const { Socket } = await import("node:net");
          return await new Promise<boolean>((r) => {
            const s = new Socket();
            s.once("error", () => r(false));
            s.connect(port, "127.0.0.1", () => {
              s.end();
              r(true);
            });
          });
        } catch {
          return false;
        }
      }, 10_000, "redis-server to listen");
    },
    async stop() {
      const p = proc;
      proc = undefined;
      if (!p || p.exitCode !== null) return;
      const exited = new Promise((r) => p.once("exit", r));
      p.kill("SIGKILL");
      await exited;
    },
  };
  await redis.start();
  return redis;
}

/** Polls `pred` every 20 ms until true; fails with `what` after `ms`. */
export async function waitFor(pred: () => boolean | Promise<boolean>, ms = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await pred()) return;
    await sleep(20);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** POSTs JSON to the server's HTTP API and returns the parsed answer. */
export async function post(http: string, path: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${http}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

/** Publishes `type` with `data` on `channel` through `POST /api/ws/broadcast`. */
export async function broadcast(http: string, channel: string, type: string, data: unknown): Promise<void> {
  const r = await post(http, "/api/ws/broadcast", { channel, type, message: data });
  if (r.status !== 200) throw new Error(`broadcast answered ${r.status}: ${JSON.stringify(r.body)}`);
}

/** An HS256 JWT for `sub` that expires `ttlSeconds` from now. */
export function mintToken(secret: string, sub: string, ttlSeconds: number): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const head = `${b64({ alg: "HS256", typ: "JWT" })}.${b64({ sub, exp: Math.floor(Date.now() / 1000) + ttlSeconds })}`;
  return `${head}.${createHmac("sha256", secret).update(head).digest("base64url")}`;
}
