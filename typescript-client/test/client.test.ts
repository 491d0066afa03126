// @brain/ws-client against the real brain-ws-server binary (and, for what
// the real server never does, a stub server): heartbeats, backoff, close
// codes, tokens, resubscribe, recovery, epochs, publish, send-to-user.

import { afterEach, describe, expect, test } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import { backoffCeiling, backoffDelay, BrainWsError, ChannelFeed, createClient, DEFAULT_MIN_INTERVAL_MS, type BrainWsClient, type ClientOptions, type ConnectionState, type StateChange, type SubscribedInfo } from "../src/index.js";
import { broadcast, freePort, mintToken, post, privateRedis, sleep, startServer, stopAllServers, waitFor, type PrivateRedis } from "./harness.js";

const clients: BrainWsClient[] = [];
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const f of cleanups.splice(0).reverse()) await f();
  await stopAllServers();
});

/** The frames a client sent, recorded by a WebSocket subclass. */
function recordingWebSocket(sent: string[]) {
  return class extends WebSocket {
    override send(data: string): void {
      sent.push(data);
      super.send(data);
    }
  };
}

function client(options: Partial<ClientOptions> & { url: string }): BrainWsClient & { states: StateChange[] } {
  const c = createClient({ WebSocket, ...options }) as BrainWsClient & { states: StateChange[] };
  c.states = [];
  c.on("state", (_s, change) => c.states.push(change));
  clients.push(c);
  return c;
}

const connected = (c: BrainWsClient, ms = 10_000) => waitFor(() => c.state === "connected", ms, "connected");
const stateNames = (c: { states: StateChange[] }): ConnectionState[] => c.states.map((s) => s.state);

/** A stub server that sends `connected` and then does whatever `onConnection` does. */
async function stub(onConnection: (socket: WebSocket) => void, welcome = true): Promise<{ url: string; connections: () => number }> {
  const port = await freePort();
  const wss = new WebSocketServer({ host: "127.0.0.1", port });
  let count = 0;
  wss.on("connection", (socket) => {
    count++;
    if (welcome) socket.send(
      JSON.stringify({
        type: "connected",
        connection_id: "7c9e6679-7425-40de-944b-e07fc1f90ae7",
        timestamp: Date.now() / 1000,
        heartbeat_interval: 0.2,
        protocol: "brain.v1",
      }),
    );
    onConnection(socket);
  });
  await new Promise((r) => wss.once("listening", r));
  cleanups.push(() => new Promise<void>((r) => {
    for (const s of wss.clients) s.terminate();
    wss.close(() => r());
  }));
  return { url: `ws://127.0.0.1:${port}`, connections: () => count };
}

describe("connection states", () => {
  test("a state listener attached right after createClient sees connecting first; close() in the same task reports only closed", async () => {
    const server = await startServer();
    const c = createClient({ url: server.ws, WebSocket });
    clients.push(c);
    expect(c.state).toBe("connecting");
    const seen: [ConnectionState, StateChange][] = [];
    c.on("state", (state, change) => seen.push([state, change]));
    await connected(c);
    expect(seen).toEqual([
      ["connecting", { state: "connecting" }],
      ["connected", { state: "connected" }],
    ]);

    const d = createClient({ url: server.ws, WebSocket });
    const dSeen: ConnectionState[] = [];
    d.on("state", (state) => dSeen.push(state));
    d.close();
    await sleep(200);
    expect(dSeen).toEqual(["closed"]);
    expect(d.state).toBe("closed");
  });
});

describe("heartbeat", () => {
  test("answers server pings: connected through 4 heartbeats of 1 s that close a silent socket", async () => {
    const server = await startServer(["--heartbeat-interval", "1s", "--heartbeat-timeout", "1s"]);
    // Control: a bare socket that never answers is closed with 4000 by this server.
    const bare = new WebSocket(`${server.ws}/ws/connect`);
    const bareClose = new Promise<number>((r) => bare.on("close", (code) => r(code)));
    const sent: string[] = [];
    const c = client({ url: server.ws, WebSocket: recordingWebSocket(sent) });
    await connected(c);
    expect(c.welcome?.heartbeat_interval).toBe(1);
    expect(await bareClose).toBe(4000);
    await sleep(4_000);
    expect(stateNames(c)).toEqual(["connecting", "connected"]);
    expect(sent.filter((f) => f === '{"type":"pong"}').length).toBeGreaterThanOrEqual(3);
  });

  test("a server silent for heartbeat interval + grace is dropped and reconnected (code 4000)", async () => {
    const server = await stub(() => {}); // says `connected` (heartbeat 0.2 s), then nothing
    const c = client({ url: server.url, heartbeatGraceMs: 300, backoff: { initialMs: 50 } });
    await connected(c);
    const at = Date.now();
    await waitFor(() => c.states.some((s) => s.state === "reconnecting"), 5_000, "reconnecting");
    const took = Date.now() - at;
    expect(took).toBeGreaterThanOrEqual(450);
    expect(took).toBeLessThan(2_000);
    expect(c.states.find((s) => s.state === "reconnecting")?.code).toBe(4000);
    await waitFor(() => server.connections() >= 2, 5_000, "a second connection");
  });
  test("no `connected` within connectTimeoutMs: dropped and retried (code 4004), reported to the logger only", async () => {
    const server = await stub(() => {}, false); // accepts the WebSocket, never says `connected`
    const logged: string[] = [];
    const logger = { info: (m: string) => logged.push(m), warn: (m: string) => logged.push(m) };
    const c = client({ url: server.url, connectTimeoutMs: 300, backoff: { initialMs: 50 }, logger });
    await waitFor(() => server.connections() >= 2, 5_000, "a second attempt");
    expect(c.states[1]).toMatchObject({ state: "reconnecting", attempt: 1, code: 4004 });
    expect(logged[0]).toBe("[brain-ws] connection closed with 4004 (handshake_timeout): no connected message within connectTimeoutMs");
  });
});

describe("backoff", () => {
  test("the Rust SDK's ceilings: 0.5, 1, 2, 4, 8, 16, 30, 30 s", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffCeiling(n))).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    expect(backoffCeiling(1000)).toBe(30000);
    expect(backoffDelay(3, { jitter: false })).toBe(2000);
    expect(backoffDelay(3, { random: () => 0 })).toBe(0);
    expect(backoffDelay(3, { random: () => 0.999999 })).toBe(2000);
    const delays = Array.from({ length: 2000 }, () => backoffDelay(2));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...delays)).toBeLessThanOrEqual(1000);
    expect(Math.max(...delays)).toBeGreaterThan(900); // full jitter uses the whole window
    expect(Math.min(...delays)).toBeLessThan(100);
  });

  test("a refused server is retried with full-jitter delays within their ceilings", async () => {
    const port = await freePort(); // nothing listens there
    const c = client({ url: `ws://127.0.0.1:${port}`, backoff: { initialMs: 100, maxMs: 400 } });
    const seen: { at: number; change: StateChange }[] = [];
    c.on("state", (_s, change) => seen.push({ at: Date.now(), change }));
    await waitFor(() => seen.filter((s) => s.change.state === "reconnecting").length >= 6, 10_000, "6 retries");
    expect(seen[0]!.change).toEqual({ state: "connecting" });
    c.close();
    const retries = seen.filter((s) => s.change.state === "reconnecting").slice(0, 6);
    expect(retries.map((r) => r.change.attempt)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(retries.map((r) => r.change.code)).toEqual([1006, 1006, 1006, 1006, 1006, 1006]);
    const ceilings = [100, 200, 400, 400, 400, 400];
    retries.forEach((r, i) => {
      expect(r.change.delayMs).toBeGreaterThanOrEqual(0);
      expect(r.change.delayMs).toBeLessThanOrEqual(ceilings[i]!);
    });
    for (let i = 1; i < retries.length; i++) {
      expect(retries[i]!.at - retries[i - 1]!.at).toBeGreaterThanOrEqual(retries[i - 1]!.change.delayMs! - 5);
    }
  });
});

describe("close codes", () => {
  test("4501 from the real server (sustained rate-limit abuse) stops the client with a typed error", async () => {
    const server = await startServer(["--rate-limit", "1", "--rate-burst", "1", "--rate-limit-violations", "3"]);
    const c = client({ url: server.ws, backoff: { initialMs: 10 } });
    await connected(c);
    for (let i = 0; i < 10; i++) c.publish("chat:1", "flood", i);
    await waitFor(() => c.state === "closed", 5_000, "closed");
    await sleep(500);
    expect(stateNames(c)).toEqual(["connecting", "connected", "closed"]);
    expect(c.error).toBeInstanceOf(BrainWsError);
    expect(c.error?.kind).toBe("closed");
    expect(c.error?.code).toBe(4501);
    expect(c.states.at(-1)?.code).toBe(4501);
  });

  test.each([4500, 1000, 1008])("close code %i from a server is terminal: no reconnect", async (code) => {
    const server = await stub((socket) => setTimeout(() => socket.close(code, "bye"), 50));
    const c = client({ url: server.url, backoff: { initialMs: 10 } });
    await waitFor(() => c.state === "closed", 5_000, "closed");
    await sleep(300);
    expect(server.connections()).toBe(1);
    expect(c.error?.kind).toBe("closed");
    expect(c.error?.code).toBe(code);
    expect(stateNames(c)).toEqual(["connecting", "connected", "closed"]);
  });

  test.each([1001, 1011, 4001, 4499])("close code %i is transient: the client reconnects", async (code) => {
    const server = await stub((socket) => setTimeout(() => socket.close(code), 50));
    const c = client({ url: server.url, backoff: { initialMs: 10 } });
    await waitFor(() => server.connections() >= 3, 5_000, "3 connections");
    expect(c.states.find((s) => s.state === "reconnecting")?.code).toBe(code);
  });
});

describe("tokens", () => {
  const secret = "ws-client-test-secret-0123456789abcdef";

  test("4002 asks getToken for a fresh token and reconnects", async () => {
    const server = await startServer(["--auth", "required", "--jwt-secret", secret, "--jwt-leeway", "0s"]);
    let calls = 0;
    const c = client({
      url: server.ws,
      getToken: async () => mintToken(secret, "u1", ++calls === 1 ? 2 : 3600), // 2: expires 1-2 s after minting (JWT exp is in whole seconds)
    });
    const users: (string | null | undefined)[] = [];
    c.on("connected", (w) => users.push(w.user_id));
    await waitFor(() => users.length === 2, 10_000, "the second connection");
    expect(calls).toBe(2);
    expect(users).toEqual(["u1", "u1"]);
    const retry = c.states.find((s) => s.state === "reconnecting");
    expect(retry?.code).toBe(4002);
    expect(stateNames(c)).toEqual(["connecting", "connected", "reconnecting", "connected"]);
  });

  test("a getToken that throws fails that attempt only: a `token` error, then a retry with backoff", async () => {
    const server = await startServer(["--auth", "required", "--jwt-secret", secret]);
    let calls = 0;
    const c = client({
      url: server.ws,
      backoff: { initialMs: 50 },
      getToken: async () => {
        if (++calls === 1) throw new Error("identity provider down");
        return mintToken(secret, "u7", 3600);
      },
    });
    const errors: BrainWsError[] = [];
    c.on("error", (e) => errors.push(e));
    await connected(c);
    expect(calls).toBe(2);
    expect(errors.map((e) => [e.kind, (e.cause as Error).message])).toEqual([["token", "identity provider down"]]);
    expect(stateNames(c)).toEqual(["connecting", "reconnecting", "connected"]);
    expect(c.welcome?.user_id).toBe("u7");
  });

  test("a refused upgrade (401, bad token) without getToken stops at once with a typed `refused` error", async () => {
    const server = await startServer(["--auth", "required", "--jwt-secret", secret]);
    const c = client({ url: server.ws, token: "not-a-jwt", backoff: { initialMs: 50 } });
    await waitFor(() => c.state === "closed", 10_000, "closed");
    expect(c.error).toBeInstanceOf(BrainWsError);
    expect([c.error?.kind, c.error?.code, c.error?.status]).toEqual(["refused", "unauthorized", 401]);
    expect(c.error?.message).toBe(
      "the server refused the connection with HTTP 401 (unauthorized: invalid token: the token is not a well-formed JWT with a supported algorithm); not reconnecting",
    );
    expect(stateNames(c)).toEqual(["connecting", "closed"]);
    expect(c.states[1]).toMatchObject({ state: "closed", code: 1006, error: c.error });
  });

  test("a refused upgrade asks getToken once: a good token connects, a second refusal stops", async () => {
    const server = await startServer(["--auth", "required", "--jwt-secret", secret]);
    let calls = 0;
    const good = client({ url: server.ws, backoff: { initialMs: 50 }, getToken: () => (++calls === 1 ? "stale" : mintToken(secret, "u9", 3600)) });
    await connected(good);
    expect(calls).toBe(2);
    expect(good.welcome?.user_id).toBe("u9");
    expect(stateNames(good)).toEqual(["connecting", "reconnecting", "connected"]);

    let asked = 0;
    const bad = client({ url: server.ws, backoff: { initialMs: 50 }, getToken: () => (++asked, undefined) });
    await waitFor(() => bad.state === "closed", 10_000, "closed");
    expect(asked).toBe(2);
    expect([bad.error?.kind, bad.error?.code, bad.error?.status]).toEqual(["refused", "unauthorized", 401]);
    expect(bad.error?.message).toContain("(unauthorized: a token is required)");
    expect(stateNames(bad)).toEqual(["connecting", "reconnecting", "closed"]);
  });

  test("an origin the server does not allow: refused with 403 forbidden", async () => {
    const server = await startServer(["--allowed-origins", "https://app.example.com"]);
    const Evil = class extends WebSocket {
      constructor(url: string) {
        super(url, { origin: "https://evil.example.com" });
      }
    };
    const seen: string[] = [];
    const fetch = async (url: string) => {
      seen.push(url);
      return globalThis.fetch(url, { headers: { origin: "https://evil.example.com" } });
    };
    const c = client({ url: server.ws, WebSocket: Evil, fetch });
    await waitFor(() => c.state === "closed", 10_000, "closed");
    expect([c.error?.kind, c.error?.code, c.error?.status]).toEqual(["refused", "forbidden", 403]);
    expect(seen).toEqual([`${server.http}/ws/connect?batch=1`]);
  });

  test("an unreachable server is not a refusal: retried", async () => {
    const port = await freePort();
    const c = client({ url: `ws://127.0.0.1:${port}`, backoff: { initialMs: 20, maxMs: 40 } });
    await waitFor(() => c.states.length >= 4, 10_000, "3 retries");
    expect(stateNames(c).slice(0, 4)).toEqual(["connecting", "reconnecting", "reconnecting", "reconnecting"]);
    expect(c.error).toBeUndefined();
  });

  test("4002 without getToken ends the client with a token_expired error", async () => {
    const server = await startServer(["--auth", "required", "--jwt-secret", secret, "--jwt-leeway", "0s"]);
    const c = client({ url: server.ws, token: mintToken(secret, "u1", 2) });
    await waitFor(() => c.state === "closed", 10_000, "closed");
    expect(c.error?.kind).toBe("token_expired");
    expect(c.error?.code).toBe(4002);
    expect(stateNames(c)).toEqual(["connecting", "connected", "closed"]);
  });

  test("send-to-user and broadcast-to-all events reach client.on('event')", async () => {
    const server = await startServer(["--jwt-secret", secret]);
    const c = client({ url: server.ws, token: mintToken(secret, "user-42", 3600) });
    const events: unknown[] = [];
    c.on("event", (e) => events.push({ type: e.type, data: e.data, channel: e.channel }));
    await connected(c);
    expect(c.welcome?.user_id).toBe("user-42");
    expect((await post(server.http, "/api/ws/users/user-42/send", { type: "notification", data: { text: "ready" } })).body).toEqual({
      status: "sent",
      user_id: "user-42",
      connections: 1,
    });
    await post(server.http, "/api/ws/broadcast/all", { type: "system_announcement", data: { message: "maintenance" } });
    await waitFor(() => events.length === 2, 5_000, "2 events");
    expect(events).toEqual([
      { type: "notification", data: { text: "ready" }, channel: undefined },
      { type: "system_announcement", data: { message: "maintenance" }, channel: undefined },
    ]);
  });
});

describe("subscriptions", () => {
  test("subscribe before the socket is open; handles on one channel share one wire subscription", async () => {
    const server = await startServer();
    const sent: string[] = [];
    const c = client({ url: server.ws, WebSocket: recordingWebSocket(sent) });
    const a = c.subscribe("missions");
    const b = c.subscribe("missions");
    expect(a.status).toBe("pending");
    const got: string[] = [];
    a.on("mission_completed", (e) => got.push(`a:${e.data.mission_id}`));
    b.on("event", (e) => got.push(`b:${e.type}`));
    await waitFor(() => a.status === "subscribed", 5_000, "subscribed");
    await broadcast(server.http, "missions", "mission_completed", { mission_id: "m1" });
    await waitFor(() => got.length === 2, 5_000, "2 deliveries");
    expect(got).toEqual(["a:m1", "b:mission_completed"]);
    const subscribes = () => sent.filter((f) => JSON.parse(f).type === "subscribe");
    const unsubscribes = () => sent.filter((f) => JSON.parse(f).type === "unsubscribe");
    expect(subscribes()).toEqual(['{"type":"subscribe","channel":"missions"}']);
    // A release and a re-subscribe within one task (StrictMode's remount) send nothing.
    a.unsubscribe();
    b.unsubscribe();
    const again = c.subscribe("missions");
    await sleep(100);
    expect(subscribes().length).toBe(1);
    expect(unsubscribes().length).toBe(0);
    again.unsubscribe();
    await waitFor(() => unsubscribes().length === 1, 2_000, "the unsubscribe");
    expect(unsubscribes()).toEqual(['{"type":"unsubscribe","channel":"missions"}']);
    await sleep(100);
    expect((await (await fetch(`${server.http}/api/ws/channels/missions`)).json())).toMatchObject({ subscribers: 0 });
  });

  test("bad input gets a typed error at once", () => {
    const c = client({ url: "ws://127.0.0.1:9" });
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e instanceof BrainWsError ? `${e.kind}` : `other: ${e}`;
      }
      return "no error";
    };
    expect(err(() => c.subscribe("has space"))).toBe("invalid");
    expect(err(() => c.subscribe(""))).toBe("invalid");
    expect(err(() => c.subscribe("x".repeat(129)))).toBe("invalid");
    // Not a string (e.g. a Vue ref passed where a name was expected, which is circular): still a typed error.
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(err(() => c.subscribe(circular as unknown as string))).toBe("invalid");
    expect(() => c.subscribe(circular as unknown as string)).toThrow("invalid channel name (a value of type object): 1 to 128");
    expect(err(() => c.publish("chat:1", "subscribed", {}))).toBe("invalid");
    expect(err(() => c.publish("chat:1", "bad type", {}))).toBe("invalid");
    expect(err(() => createClient({ url: "http://127.0.0.1:1", WebSocket }))).toBe("invalid");
    expect(err(() => createClient({ url: "ws://127.0.0.1:1" }))).toBe(typeof globalThis.WebSocket === "function" ? "no error" : "no_websocket");
    c.close();
    expect(err(() => c.subscribe("missions"))).toBe("closed_by_client");
  });

  test("a refused subscription reports failed with the server's code; the connection stays usable", async () => {
    const server = await startServer(["--max-subscriptions", "1"]);
    const c = client({ url: server.ws });
    const ok = c.subscribe("missions");
    const refused = c.subscribe("agents");
    const errors: BrainWsError[] = [];
    refused.on("error", (e) => errors.push(e));
    await waitFor(() => refused.status === "failed" && ok.status === "subscribed", 5_000, "answers");
    expect(errors.map((e) => [e.kind, e.code, e.channel])).toEqual([["server", "subscription_limit", "agents"]]);
    expect(refused.error?.code).toBe("subscription_limit");
    expect(c.state).toBe("connected");
  });

  test("async iteration yields events in order; an unread iterator overflows with a typed error", async () => {
    const server = await startServer();
    const c = client({ url: server.ws, iteratorBufferSize: 3 });
    const sub = c.subscribe("tasks");
    await waitFor(() => sub.status === "subscribed", 5_000, "subscribed");
    const it = sub[Symbol.asyncIterator]();
    for (let i = 1; i <= 3; i++) await broadcast(server.http, "tasks", "task_completed", { task_id: `t${i}` });
    const firstThree = [];
    for (let i = 0; i < 3; i++) firstThree.push(((await it.next()).value as { data: unknown }).data);
    expect(firstThree).toEqual([{ task_id: "t1" }, { task_id: "t2" }, { task_id: "t3" }]);
    for (let i = 4; i <= 7; i++) await broadcast(server.http, "tasks", "task_completed", { task_id: `t${i}` });
    await sleep(300);
    const rest: unknown[] = [];
    let error: unknown;
    try {
      for (;;) {
        const r = await it.next();
        if (r.done) break;
        rest.push(r.value.data);
      }
    } catch (e) {
      error = e;
    }
    expect(rest).toEqual([{ task_id: "t4" }, { task_id: "t5" }, { task_id: "t6" }]);
    expect((error as BrainWsError).kind).toBe("overflow");
    // Unsubscribing ends a `for await` loop.
    const loop = (async () => {
      const seen = [];
      for await (const e of sub) seen.push(e.data);
      return seen;
    })();
    await sleep(50);
    await broadcast(server.http, "tasks", "task_completed", { task_id: "t8" });
    await sleep(200);
    sub.unsubscribe();
    expect(await loop).toEqual([{ task_id: "t8" }]);
  });
});

describe("reconnect and recovery", () => {
  test("a server killed and restarted on the same port: resubscribed; a new epoch is reported, not deduplicated", async () => {
    let server = await startServer();
    const c = client({ url: server.ws, backoff: { initialMs: 50, maxMs: 200 } });
    const missions = c.subscribe("missions");
    const chat = c.subscribe("chat:lobby");
    const infos: SubscribedInfo[] = [];
    const chatInfos: SubscribedInfo[] = [];
    const got: unknown[] = [];
    missions.on("subscribed", (i) => infos.push(i));
    chat.on("subscribed", (i) => chatInfos.push(i));
    missions.on("event", (e) => got.push([e.data, e.offset]));
    await waitFor(() => infos.length === 1 && chatInfos.length === 1, 5_000, "subscribed");
    for (let i = 1; i <= 3; i++) await broadcast(server.http, "missions", "mission_started", { mission_id: `m${i}` });
    await waitFor(() => got.length === 3, 5_000, "3 events");
    const firstEpoch = infos[0]!.epoch!;
    const port = server.port;
    await server.kill();
    await waitFor(() => c.state === "reconnecting", 5_000, "reconnecting");
    server = await startServer([], port);
    await waitFor(() => infos.length === 2 && chatInfos.length === 2, 10_000, "renewed");
    expect(infos[0]).toEqual({ channel: "missions", epoch: firstEpoch, offset: 0, recovered: null, replayed: null, renewed: false, epochChanged: false, previousEpoch: undefined });
    expect(infos[1]).toMatchObject({ channel: "missions", offset: 0, recovered: false, renewed: true, epochChanged: true, previousEpoch: firstEpoch });
    expect(infos[1]!.epoch).not.toBe(firstEpoch);
    expect(chatInfos.map((i) => [i.recovered, i.renewed, i.epoch])).toEqual([[null, false, undefined], [null, true, undefined]]);
    // Offsets start over in the new epoch: 1 again, delivered (not taken for a duplicate).
    await broadcast(server.http, "missions", "mission_started", { mission_id: "m4" });
    await waitFor(() => got.length === 4, 5_000, "the event after the restart");
    expect(got).toEqual([[{ mission_id: "m1" }, 1], [{ mission_id: "m2" }, 2], [{ mission_id: "m3" }, 3], [{ mission_id: "m4" }, 1]]);
    expect(await (await fetch(`${server.http}/api/ws/channels/missions`)).json()).toMatchObject({ subscribers: 1 });
  });

  test("through a Redis-backed server: events published while it was down arrive once, in order (recovered: true)", async () => {
    const prefix = `brain-ws-client-test-${process.pid}-${Date.now()}`;
    const redisArgs = ["--broker", "redis://127.0.0.1:6379/0", "--redis-prefix", prefix];
    let a = await startServer(redisArgs);
    const b = await startServer(redisArgs); // publishes while a is down
    const c = client({ url: a.ws, backoff: { initialMs: 50, maxMs: 200 } });
    const sub = c.subscribe("missions");
    const infos: SubscribedInfo[] = [];
    const seq: number[] = [];
    sub.on("subscribed", (i) => infos.push(i));
    sub.on("mission_started", (e) => seq.push(Number(e.data.mission_id)));
    await waitFor(() => infos.length === 1, 5_000, "subscribed");
    for (let i = 1; i <= 3; i++) await broadcast(a.http, "missions", "mission_started", { mission_id: String(i) });
    await waitFor(() => seq.length === 3, 5_000, "3 events");
    const port = a.port;
    await a.kill();
    for (let i = 4; i <= 8; i++) await broadcast(b.http, "missions", "mission_started", { mission_id: String(i) });
    a = await startServer(redisArgs, port);
    await waitFor(() => infos.length === 2, 10_000, "renewed");
    for (let i = 9; i <= 10; i++) await broadcast(b.http, "missions", "mission_started", { mission_id: String(i) });
    await waitFor(() => seq.length >= 10, 5_000, "10 events");
    await sleep(200);
    expect(seq).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(infos[1]).toMatchObject({ recovered: true, renewed: true, epochChanged: false, epoch: infos[0]!.epoch });
  });

  test("Redis restarted empty under a live server: the server's stream-restart notice is reported as a new epoch, the position resets, nothing is dropped; a publish meanwhile is refused `unavailable`", async () => {
    const redis: PrivateRedis = await privateRedis();
    cleanups.push(() => redis.stop());
    const server = await startServer(["--broker", redis.url, "--redis-prefix", "t", "--client-publish", "chat:*"]);
    const c = client({ url: server.ws });
    const sub = c.subscribe("missions");
    const infos: SubscribedInfo[] = [];
    const got: [string, number | null | undefined][] = [];
    // One log of both, to check the notice comes before the new epoch's events.
    const order: string[] = [];
    const errors: BrainWsError[] = [];
    c.on("error", (e) => errors.push(e));
    sub.on("subscribed", (i) => {
      infos.push(i);
      order.push(`subscribed ${i.recovered}`);
    });
    sub.on("mission_started", (e) => {
      got.push([e.data.mission_id, e.offset]);
      order.push(`event ${e.data.mission_id}`);
    });
    await waitFor(() => infos.length === 1, 5_000, "subscribed");
    for (const id of ["a", "b", "c"]) await broadcast(server.http, "missions", "mission_started", { mission_id: id });
    await waitFor(() => got.length === 3, 5_000, "3 events");
    await redis.stop();
    // Let the server see the outage first, or its first publish could race the reconnect.
    await waitFor(async () => (await fetch(`${server.http}/ready`)).status === 503, 20_000, "the server to see Redis gone");
    // A client publish while Redis is down is refused, with its channel, to the application.
    c.publish("chat:1", "chat_message", { text: "while Redis is down" });
    await waitFor(() => errors.length === 1, 5_000, "the publish refusal");
    expect(errors.map((e) => [e.kind, e.code, e.channel])).toEqual([["server", "unavailable", "chat:1"]]);
    await redis.start();
    await waitFor(async () => (await fetch(`${server.http}/ready`)).status === 200, 20_000, "the server's Redis to come back");
    const stuck = (what: string) => (e: Error) => {
      throw new Error(`${e.message} (${what}): got ${JSON.stringify(got)}, infos ${JSON.stringify(infos)}\n${server.log().split("\n").filter((l) => /redis|broker/i.test(l)).slice(-8).join("\n")}`);
    };
    await broadcast(server.http, "missions", "mission_started", { mission_id: "d" });
    await waitFor(() => got.length === 4 && infos.length === 2, 5_000, "d and the new epoch").catch(stuck("d"));
    await broadcast(server.http, "missions", "mission_started", { mission_id: "e" });
    await waitFor(() => got.length === 5, 5_000, "e").catch(stuck("e"));
    await sleep(200);
    expect(got).toEqual([["a", 1], ["b", 2], ["c", 3], ["d", 1], ["e", 2]]);
    expect(order).toEqual(["subscribed null", "event a", "event b", "event c", "subscribed false", "event d", "event e"]);
    expect(infos).toHaveLength(2);
    expect(infos[1]).toMatchObject({ channel: "missions", renewed: true, recovered: false, epochChanged: true, previousEpoch: infos[0]!.epoch, offset: 0 });
    expect(infos[1]!.epoch).not.toBe(infos[0]!.epoch);
    expect(sub.position).toEqual({ epoch: infos[1]!.epoch, offset: 2 });
    expect(sub.lastSubscribed).toEqual(infos[1]);
    expect(errors).toHaveLength(1);
    expect(c.state).toBe("connected");
  });
});

describe("client publish", () => {
  test("publish where the server allows it; publish_not_allowed elsewhere and forbidden on a private channel, as typed errors", async () => {
    const server = await startServer(["--client-publish", "chat:*", "--private-channel", "chat:private*"]);
    const reader = client({ url: server.ws });
    const writer = client({ url: server.ws });
    const room = reader.subscribe("chat:1");
    const got: unknown[] = [];
    room.on("event", (e) => got.push({ type: e.type, channel: e.channel, data: e.data }));
    const errors: BrainWsError[] = [];
    writer.on("error", (e) => errors.push(e));
    writer.publish("chat:1", "chat_message", { text: "queued before connect" });
    await waitFor(() => room.status === "subscribed" && writer.state === "connected", 5_000, "ready");
    writer.publish("chat:1", "chat_message", { text: "hi" });
    writer.publish("missions", "mission_created", { mission_id: "x" });
    writer.publish("chat:private-1", "chat_message", { text: "anonymous" });
    const hi = { type: "chat_message", channel: "chat:1", data: { text: "hi" } };
    const queued = { type: "chat_message", channel: "chat:1", data: { text: "queued before connect" } };
    await waitFor(() => JSON.stringify(got).includes('"hi"') && errors.length === 2, 5_000, "delivery and errors");
    await sleep(200);
    // "hi" arrives once. The queued publish is sent at connect and may reach the
    // server before `reader` subscribed; if it arrives, it arrives once.
    expect(got.filter((g) => JSON.stringify(g) === JSON.stringify(hi))).toEqual([hi]);
    expect(got.filter((g) => JSON.stringify(g) === JSON.stringify(queued)).length).toBeLessThanOrEqual(1);
    expect(got.length).toBe(got.filter((g) => [hi, queued].some((x) => JSON.stringify(x) === JSON.stringify(g))).length);
    expect(errors.map((e) => [e.kind, e.code, e.channel])).toEqual([
      ["server", "publish_not_allowed", "missions"],
      ["server", "forbidden", "chat:private-1"],
    ]);
    expect(writer.state).toBe("connected");
  });
});

describe("client publish: what it guarantees", () => {
  test("publishes arrive in call order; frames over the rate limit are refused rate_limited (no channel: dropped unread), each reported once; the connection stays up", async () => {
    // 5 frames/s with a burst of 3: of 6 publishes in one go the first 3 pass.
    const server = await startServer(["--client-publish", "chat:*", "--rate-limit", "5", "--rate-burst", "3", "--rate-limit-violations", "100"]);
    const reader = client({ url: server.ws });
    const room = reader.subscribe("chat:1");
    const got: unknown[] = [];
    room.on("event", (e) => got.push(e.data));
    const writer = client({ url: server.ws });
    const errors: BrainWsError[] = [];
    writer.on("error", (e) => errors.push(e));
    await waitFor(() => room.status === "subscribed" && writer.state === "connected", 5_000, "ready");
    for (let n = 1; n <= 6; n++) writer.publish("chat:1", "chat_message", { n });
    await waitFor(() => got.length === 3 && errors.length === 3, 5_000, "3 delivered, 3 refused");
    await sleep(300);
    expect(got).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(errors.map((e) => [e.kind, e.code, e.channel, e.message])).toEqual(
      Array(3).fill(["server", "rate_limited", undefined, "rate_limited: too many messages: this one was dropped"]),
    );
    expect(errors.every((e) => e instanceof BrainWsError)).toBe(true);
    // Once the bucket refilled, publishing works again on the same connection.
    await sleep(1_000);
    writer.publish("chat:1", "chat_message", { n: 7 });
    await waitFor(() => got.length === 4, 5_000, "the 7th");
    expect(got.at(-1)).toEqual({ n: 7 });
    expect(stateNames(writer)).toEqual(["connecting", "connected"]);
  });

  test("a publish over the server's max_message_size: the server closes with 1009, the client reconnects, the publish is lost (not resent)", async () => {
    const server = await startServer(["--client-publish", "chat:*", "--max-message-size", "1024"]);
    const reader = client({ url: server.ws });
    const room = reader.subscribe("chat:1");
    const got: unknown[] = [];
    room.on("event", (e) => got.push(e.data));
    const writer = client({ url: server.ws, backoff: { initialMs: 50 } });
    await waitFor(() => room.status === "subscribed" && writer.state === "connected", 5_000, "ready");
    writer.publish("chat:1", "chat_message", { text: "x".repeat(2_000) });
    await waitFor(() => stateNames(writer).at(-1) === "connected" && writer.states.length === 4, 5_000, "reconnected");
    expect(writer.states[2]).toMatchObject({ state: "reconnecting", attempt: 1, code: 1009 });
    writer.publish("chat:1", "chat_message", { text: "small" });
    await waitFor(() => got.length === 1, 5_000, "the small one");
    await sleep(300);
    expect(got).toEqual([{ text: "small" }]);
  });

  test("publishes held while disconnected are reported not_sent, each with its channel, when the client closes first", async () => {
    const port = await freePort(); // nothing listens there
    const c = client({ url: `ws://127.0.0.1:${port}`, backoff: { initialMs: 60_000 } });
    const errors: BrainWsError[] = [];
    c.on("error", (e) => errors.push(e));
    c.publish("chat:1", "chat_message", { text: "a" });
    c.publish("chat:2", "typing", null);
    await waitFor(() => c.state === "reconnecting", 5_000, "reconnecting");
    expect(errors).toEqual([]);
    c.close();
    expect(errors.map((e) => [e.kind, e.channel, e.message])).toEqual([
      ["not_sent", "chat:1", "the client closed before this publish (chat_message on chat:1) could be sent"],
      ["not_sent", "chat:2", "the client closed before this publish (typing on chat:2) could be sent"],
    ]);
    expect(stateNames(c)).toEqual(["connecting", "reconnecting", "closed"]);
  });

  test("bad input throws at once with a typed error and sends nothing", async () => {
    const sent: string[] = [];
    const server = await startServer(["--client-publish", "chat:*"]);
    const c = client({ url: server.ws, WebSocket: recordingWebSocket(sent) });
    await connected(c);
    const thrown = (f: () => void) => {
      try {
        f();
      } catch (e) {
        return [(e as BrainWsError).kind, (e as BrainWsError).channel, (e as BrainWsError).message];
      }
      return null;
    };
    expect(thrown(() => c.publish("bad channel", "chat_message", {}))).toEqual([
      "invalid", "bad channel", 'invalid channel name "bad channel": 1 to 128 ASCII letters, digits and _ . : @ - (docs/protocol.md, Channel names)',
    ]);
    expect(thrown(() => c.publish("chat:1", "ping", {}))).toEqual([
      "invalid", "chat:1", 'invalid event type "ping": 1 to 64 ASCII letters, digits and _ . : -, not a reserved type (docs/protocol.md, Event types)',
    ]);
    await sleep(100);
    expect(sent.filter((f) => f.includes('"publish"'))).toEqual([]);
    c.close();
    expect(thrown(() => c.publish("chat:1", "chat_message", {}))).toEqual(["closed_by_client", "chat:1", "the client is closed"]);
  });
});

describe("useChannel's feed (ChannelFeed, behind the React and Vue bindings)", () => {
  const ns = (feed: ChannelFeed) => feed.getSnapshot().events.map((e) => (e.data as { n: number }).n);

  test("many events, one snapshot: a ring of `limit`, newest last, nothing copied until the scheduled flush", async () => {
    const server = await startServer();
    const c = client({ url: server.ws });
    const flushes: (() => void)[] = [];
    const feed = new ChannelFeed(c, "metrics", { limit: 3, minIntervalMs: 0 }, (flush) => flushes.push(flush));
    let notified = 0;
    feed.watch(() => notified++);
    const counter = c.subscribe("metrics");
    let arrived = 0;
    counter.on("event", () => arrived++);
    feed.start();
    await waitFor(() => counter.status === "subscribed", 5_000, "subscribed");
    for (const f of flushes.splice(0)) f();
    expect(feed.getSnapshot()).toMatchObject({ events: [], status: "subscribed", received: 0 });
    notified = 0;

    for (let n = 1; n <= 5; n++) await broadcast(server.http, "metrics", "metrics_update", { n });
    await waitFor(() => arrived === 5, 5_000, "5 events");
    const before = feed.getSnapshot();
    expect(flushes.length).toBe(1); // 5 events, one flush scheduled
    expect(before.received).toBe(0);
    flushes.shift()!();
    expect(notified).toBe(1);
    expect(feed.getSnapshot()).not.toBe(before);
    expect(ns(feed)).toEqual([3, 4, 5]);
    expect(feed.getSnapshot().received).toBe(5);
    expect(feed.getSnapshot().events.map((e) => e.offset)).toEqual([3, 4, 5]);
    // Unchanged until something changes: the same object.
    expect(feed.getSnapshot()).toBe(feed.getSnapshot());
    feed.stop();
  });

  test(`a busy channel gets a snapshot at most every minIntervalMs (default ${DEFAULT_MIN_INTERVAL_MS} ms), each with every event so far; the first after a quiet period at once`, async () => {
    expect(DEFAULT_MIN_INTERVAL_MS).toBe(100);
    const server = await startServer();
    const c = client({ url: server.ws });
    const feed = new ChannelFeed(c, "metrics", { limit: 100 }, (flush) => flush()); // the "next frame" is now
    const snapshots: { at: number; ns: number[] }[] = [];
    feed.watch(() => snapshots.push({ at: performance.now(), ns: ns(feed) }));
    const counter = c.subscribe("metrics");
    feed.start();
    // The feed's own snapshot says subscribed: nothing more is pending, the quiet period starts.
    await waitFor(() => feed.getSnapshot().status === "subscribed", 5_000, "subscribed");
    await sleep(DEFAULT_MIN_INTERVAL_MS + 50); // quiet
    snapshots.length = 0;
    const t0 = performance.now();
    for (let n = 1; n <= 20; n++) {
      await broadcast(server.http, "metrics", "metrics_update", { n });
      await sleep(15);
    }
    await waitFor(() => snapshots.at(-1)?.ns.length === 20, 5_000, "all 20 in a snapshot");
    expect(snapshots[0]!.ns).toEqual([1]); // the first after the quiet period: at once
    expect(snapshots[0]!.at - t0).toBeLessThan(DEFAULT_MIN_INTERVAL_MS);
    for (let i = 1; i < snapshots.length; i++) {
      expect(snapshots[i]!.at - snapshots[i - 1]!.at).toBeGreaterThanOrEqual(DEFAULT_MIN_INTERVAL_MS - 2);
      // Each snapshot holds every event so far, in order.
      expect(snapshots[i]!.ns).toEqual(Array.from({ length: snapshots[i]!.ns.length }, (_, k) => k + 1));
    }
    expect(snapshots.length).toBeLessThan(20);
    expect(snapshots.length).toBeGreaterThanOrEqual(3);
    feed.stop();
  });
});

describe("a closed client leaves nothing behind", () => {
  // A child Node process with the built package: it must exit by itself
  // (no timer, socket or fetch left running) right after close(), with no
  // unhandled rejection, whatever the client was doing.
  const script = (url: string, http: string) => `
import WebSocket from "ws";
import { createClient } from "../dist/index.js";
process.on("unhandledRejection", (e) => { console.log("unhandled", String(e)); process.exit(3); });
const wait = (pred) => new Promise((r) => { const t = setInterval(() => { if (pred()) { clearInterval(t); r(); } }, 10); });
const out = [];
// 1. connected, subscribed, an event received, closed (twice: idempotent).
const a = createClient({ url: ${JSON.stringify(url)}, WebSocket });
const sub = a.subscribe("missions");
const got = [];
sub.on("event", (e) => got.push(e.data.n));
await wait(() => sub.status === "subscribed");
await fetch(${JSON.stringify(http)} + "/api/ws/broadcast", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ channel: "missions", message: { n: 1 } }) });
await wait(() => got.length === 1);
a.close(); a.close();
out.push([a.state, sub.status, got]);
// 2. closed while waiting to reconnect to a port nobody listens on.
const b = createClient({ url: "ws://127.0.0.1:1", WebSocket, backoff: { initialMs: 60_000 } });
await wait(() => b.state === "reconnecting");
b.close();
// 3. closed while connecting, before the first attempt even started.
const c = createClient({ url: ${JSON.stringify(url)}, WebSocket, getToken: () => new Promise((r) => setTimeout(() => r("late"), 50)) });
c.close();
// 4. closed while the async iterator waits.
const d = createClient({ url: ${JSON.stringify(url)}, WebSocket });
const it = d.subscribe("missions")[Symbol.asyncIterator]();
const pending = it.next();
d.close();
out.push([b.state, c.state, await pending]);
console.log(JSON.stringify(out));
`;

  test("Node exits by itself after close(), from every state; close() is idempotent", async () => {
    const server = await startServer();
    const { execFile } = await import("node:child_process");
    const { writeFileSync, rmSync } = await import("node:fs");
    const file = new URL(`./exit-${process.pid}.mjs`, import.meta.url);
    writeFileSync(file, script(server.ws, server.http));
    cleanups.push(() => rmSync(file, { force: true }));
    const started = Date.now();
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile("node", [file.pathname], { timeout: 15_000 }, (error, out, err) => (error ? reject(new Error(`${error.message}\n${out}\n${err}`)) : resolve(out)));
    });
    expect(JSON.parse(stdout)).toEqual([
      ["closed", "unsubscribed", [1]],
      ["closed", "closed", { done: true }],
    ]);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe("batched frames against other servers", () => {
  /** A stub that answers `subscribe`, then runs `afterSubscribe`; records the upgrade URL and every client message. */
  async function answering(afterSubscribe: (socket: WebSocket) => void) {
    const received: Record<string, unknown>[] = [];
    const server = await stub((socket) => {
      socket.on("message", (data) => {
        const msg = JSON.parse(data.toString()) as Record<string, unknown>;
        received.push(msg);
        if (msg.type === "subscribe") {
          socket.send(JSON.stringify({ type: "subscribed", channel: msg.channel }));
          afterSubscribe(socket);
        }
      });
    });
    return { ...server, received };
  }
  const event = (n: number) => JSON.stringify({ type: "mission_update", channel: "missions", data: { n }, timestamp: 1 });

  test("batch: true against a server that ignores ?batch=1 (one message per frame): every event, in order, and pongs", async () => {
    const urls: string[] = [];
    const Recording = class extends WebSocket {
      constructor(url: string) {
        super(url);
        urls.push(url);
      }
    };
    const server = await answering((socket) => {
      for (let n = 1; n <= 5; n++) socket.send(event(n));
      socket.send(JSON.stringify({ type: "ping", timestamp: 1 }));
    });
    const c = client({ url: server.url, WebSocket: Recording });
    const got: number[] = [];
    c.subscribe("missions").on("event", (e) => got.push((e.data as { n: number }).n));
    await waitFor(() => got.length === 5 && server.received.some((m) => m.type === "pong"), 5_000, "events and a pong");
    expect(got).toEqual([1, 2, 3, 4, 5]);
    expect(urls).toEqual([`${server.url}/ws/connect?batch=1`]);
  });

  test("a ping inside a batched frame is answered, and the events around it arrive in order", async () => {
    const server = await answering((socket) => {
      socket.send([event(1), JSON.stringify({ type: "ping", timestamp: 1 }), event(2), event(3)].join("\n"));
    });
    const c = client({ url: server.url });
    const got: number[] = [];
    c.subscribe("missions").on("event", (e) => got.push((e.data as { n: number }).n));
    await waitFor(() => got.length === 3 && server.received.some((m) => m.type === "pong"), 5_000, "events and a pong");
    expect(got).toEqual([1, 2, 3]);
    expect(c.state).toBe("connected");
  });

  test("batch: false against the real server: no query parameter, every frame one message, 30 live events each once", async () => {
    const server = await startServer();
    const urls: string[] = [];
    const frames: string[] = [];
    const Recording = class extends WebSocket {
      constructor(url: string) {
        super(url);
        urls.push(url);
        this.on("message", (data) => frames.push(data.toString()));
      }
    };
    const c = client({ url: server.ws, WebSocket: Recording, batch: false });
    const got: string[] = [];
    const sub = c.subscribe("missions");
    sub.on("event", (e) => got.push((e.data as { mission_id: string }).mission_id));
    await waitFor(() => sub.status === "subscribed", 5_000, "subscribed");
    await Promise.all(Array.from({ length: 30 }, (_, i) => broadcast(server.http, "missions", "mission_created", { mission_id: `m-${i + 1}` })));
    await waitFor(() => got.length === 30, 5_000, "30 events");
    expect(new Set(got).size).toBe(30);
    expect(urls).toEqual([`${server.ws}/ws/connect`]);
    expect(frames.every((f) => !f.includes("\n"))).toBe(true);
  });
});
