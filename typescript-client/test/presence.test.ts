// Presence against the real brain-ws-server binary: `subscribe(channel,
// { presence: true })` hears the other members' join and leave, the
// presence reads answer members and counts, and PresenceFeed (behind
// usePresence) keeps the member list across joins and leaves.

import { afterEach, describe, expect, test } from "vitest";
import WebSocket from "ws";
import type { PresenceInfo } from "@brain/ws-protocol";
import { BrainWsError, createClient, PresenceFeed, type BrainWsClient } from "../src/index.js";
import { freePort, startServer, stopAllServers, waitFor } from "./harness.js";

const clients: BrainWsClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await stopAllServers();
});

function client(url: string): BrainWsClient {
  const c = createClient({ url, WebSocket });
  clients.push(c);
  return c;
}

describe("presence", () => {
  test("join and leave reach the handles that asked; the reads count and list members", async () => {
    const server = await startServer(["--presence-channels", "agents,room:*"]);
    const watcher = client(server.ws);
    const sub = watcher.subscribe("agents", { presence: true });
    const quiet = watcher.subscribe("agents");
    const seen: [string, PresenceInfo][] = [];
    let quietSaw = 0;
    sub.on("join", (info) => seen.push(["join", info]));
    sub.on("leave", (info) => seen.push(["leave", info]));
    quiet.on("join", () => quietSaw++);
    await waitFor(() => sub.status === "subscribed", 10_000, "subscribed");
    expect(sub.lastSubscribed?.presence).toBe(true);

    const other = client(server.ws);
    const otherSub = other.subscribe("agents");
    await waitFor(() => seen.length === 1, 10_000, "a join");
    const otherId = other.welcome?.connection_id;
    expect(seen[0]![0]).toBe("join");
    expect(seen[0]![1].connection_id).toBe(otherId);
    expect(seen[0]![1].user_id).toBeUndefined();

    expect(await watcher.presenceStats("agents")).toEqual({ channel: "agents", connections: 2, users: 0 });
    const members = await watcher.presence("agents");
    expect(members.members.map((m) => m.connection_id)).toEqual([watcher.welcome?.connection_id, otherId]);

    otherSub.unsubscribe();
    await waitFor(() => seen.length === 2, 10_000, "a leave");
    expect(seen[1]).toEqual(["leave", seen[0]![1]]);
    expect(quietSaw).toBe(0);

    const refused = await watcher.presence("missions").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BrainWsError);
    expect((refused as BrainWsError).code).toBe("presence_disabled");
    expect((refused as BrainWsError).status).toBe(404);
  });

  test("a read without an answer is a typed `unreachable` error that names the URL and the same-origin rule", async () => {
    // What a browser page of another origin gets too (no CORS on the admin
    // API): fetch rejects with a bare TypeError, which the client types.
    const port = await freePort();
    const nobody = client(`ws://127.0.0.1:${port}`);
    const failed = await nobody.presence("agents").catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(BrainWsError);
    const error = failed as BrainWsError;
    expect([error.kind, error.code, error.channel, error.status]).toEqual(["server", "unreachable", "agents", undefined]);
    expect(error.message).toBe(
      `unreachable: GET http://127.0.0.1:${port}/api/ws/channels/agents/presence failed (TypeError: fetch failed); ` +
        "in a browser the page must have the server's origin (the admin API sends no CORS headers; docs/clients.md, Presence)",
    );
    const stats = await nobody.presenceStats("agents").catch((e: unknown) => e);
    expect((stats as BrainWsError).code).toBe("unreachable");
  });

  test("presence reads go through the `fetch` option, with the API key as a bearer token", async () => {
    const server = await startServer(["--presence-channels", "agents"]);
    const calls: [string, unknown][] = [];
    const c = createClient({
      url: server.ws,
      WebSocket,
      fetch: (url, init) => {
        calls.push([url, init]);
        return globalThis.fetch(url, init);
      },
    });
    clients.push(c);
    expect(await c.presenceStats("agents", { apiKey: "k1" })).toEqual({ channel: "agents", connections: 0, users: 0 });
    expect(calls).toEqual([
      [`${server.http}/api/ws/channels/agents/presence/stats`, { cache: "no-store", headers: { authorization: "Bearer k1" } }],
    ]);
  });

  test("PresenceFeed (usePresence) keeps the member list", async () => {
    const server = await startServer(["--presence-channels", "room:*"]);
    const first = client(server.ws);
    await waitFor(() => first.state === "connected", 10_000, "connected");
    first.subscribe("room:1");
    const viewer = client(server.ws);
    const feed = new PresenceFeed(viewer, "room:1");
    feed.start();
    await waitFor(() => feed.getSnapshot().loaded && feed.getSnapshot().members.length === 2, 10_000, "two members");
    expect(feed.getSnapshot().members.map((m) => m.connection_id)).toEqual([
      first.welcome?.connection_id,
      viewer.welcome?.connection_id,
    ]);
    const third = client(server.ws);
    third.subscribe("room:1");
    await waitFor(() => feed.getSnapshot().members.length === 3, 10_000, "a third member");
    third.close();
    await waitFor(() => feed.getSnapshot().members.length === 2, 10_000, "the third left");
    expect(feed.getSnapshot().error).toBeUndefined();
    feed.stop();
  });
});
