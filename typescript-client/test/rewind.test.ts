// Rewind (`client.subscribe(ch, { rewind })`, `useChannel`'s feed) and
// history reads (`fetchHistory`) against the real brain-ws-server binary.

import { afterEach, describe, expect, test } from "vitest";
import WebSocket from "ws";
import type { EventEnvelope } from "@brain/ws-protocol";
import { BrainWsError, ChannelFeed, createClient, fetchHistory, type BrainWsClient, type SubscribedInfo } from "../src/index.js";
import { broadcast, freePort, startServer, stopAllServers, waitFor } from "./harness.js";

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

async function publish(http: string, from: number, to: number): Promise<void> {
  for (let n = from; n <= to; n++) await broadcast(http, "missions", "mission_created", { mission_id: `m-${n}` });
}

describe("batched frames", () => {
  // A rewind queues `subscribed` and the replay at once on the server,
  // so with batching they share one frame; every event still arrives
  // once, in order (docs/protocol.md, Batched frames).
  for (const batch of [true, false]) {
    test(`batch: ${batch}: 20 replayed events arrive once and in order, in ${batch ? "one frame" : "a frame each"}`, async () => {
      const server = await startServer(["--history-size", "20"]);
      await publish(server.http, 1, 20);
      const frames: string[] = [];
      const urls: string[] = [];
      const Counting = class extends WebSocket {
        constructor(url: string) {
          super(url);
          urls.push(url);
          this.on("message", (data) => frames.push(data.toString()));
        }
      };
      const c = createClient({ url: server.ws, WebSocket: Counting, batch });
      clients.push(c);
      const got: number[] = [];
      c.subscribe("missions", { rewind: 20 }).on("event", (e: EventEnvelope) => got.push(e.offset!));
      await waitFor(() => got.length === 20, 5_000, "the replay");
      expect(got).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(urls).toEqual([`${server.ws}/ws/connect${batch ? "?batch=1" : ""}`]);
      // The welcome, then `subscribed` + 20 events: in one frame when batched.
      expect(frames.map((f) => f.split("\n").length)).toEqual(batch ? [1, 21] : Array(22).fill(1));
    });
  }
});

describe("rewind", () => {
  test("the last N events, then live ones, each once and in order", async () => {
    const server = await startServer(["--history-size", "10"]);
    await publish(server.http, 1, 5);
    const c = client(server.ws);
    const missions = c.subscribe("missions", { rewind: 3 });
    const got: string[] = [];
    const answers: SubscribedInfo[] = [];
    missions.on("event", (e: EventEnvelope) => got.push(`${e.offset}:${(e.data as { mission_id: string }).mission_id}`));
    missions.on("subscribed", (info) => answers.push(info));
    await waitFor(() => got.length === 3, 5_000, "the replay");
    await publish(server.http, 6, 6);
    await waitFor(() => got.length === 4, 5_000, "the live event");
    expect(got).toEqual(["3:m-3", "4:m-4", "5:m-5", "6:m-6"]);
    expect(answers.map((a) => [a.offset, a.replayed, a.recovered])).toEqual([[5, 3, null]]);
    // A second handle on the same channel cannot rewind again.
    expect(() => c.subscribe("missions", { rewind: 2 })).toThrow(BrainWsError);
    // Above the server's limit: the subscription fails with its code.
    const agents = c.subscribe("agents", { rewind: 11 });
    await waitFor(() => agents.status === "failed", 5_000, "the refusal");
    expect(agents.error?.code).toBe("invalid_message");
  });

  test("a ChannelFeed (useChannel) with rewind starts with the channel's last events", async () => {
    const server = await startServer(["--history-size", "10"]);
    await publish(server.http, 1, 4);
    const c = client(server.ws);
    const feed = new ChannelFeed(c, "missions", { limit: 3, rewind: 3 }, (flush) => setTimeout(flush, 0));
    feed.start();
    await waitFor(() => feed.getSnapshot().events.length === 3, 5_000, "the replay in the feed");
    expect(feed.getSnapshot().events.map((e) => e.offset)).toEqual([2, 3, 4]);
    expect(feed.getSnapshot().subscribed?.replayed).toBe(3);
    feed.stop();
  });

  test("a rewinding ChannelFeed on a channel another handle holds shows live events and reports why, without throwing", async () => {
    // A page with a live useChannel("missions") and a rewinding one: a throw
    // from the second's effect blanked the whole React tree.
    const server = await startServer(["--history-size", "10"]);
    await publish(server.http, 1, 4);
    const c = client(server.ws);
    const live = new ChannelFeed(c, "missions", { limit: 10 }, (flush) => setTimeout(flush, 0));
    const rewound = new ChannelFeed(c, "missions", { limit: 10, rewind: 3 }, (flush) => setTimeout(flush, 0));
    live.start();
    rewound.start();
    await waitFor(() => rewound.getSnapshot().status === "subscribed", 5_000, "subscribed");
    await publish(server.http, 5, 5);
    await waitFor(() => rewound.getSnapshot().events.length === 1 && live.getSnapshot().events.length === 1, 5_000, "the live event");
    expect(rewound.getSnapshot().events.map((e) => e.offset)).toEqual([5]);
    expect(live.getSnapshot().error).toBeUndefined();
    const error = rewound.getSnapshot().error;
    expect([error?.kind, error?.channel, error?.message]).toEqual([
      "invalid",
      "missions",
      "this client already subscribes to missions: rewind applies to a channel's first subscription only",
    ]);
    // A bad channel name still throws: only the rewind is softened.
    expect(() => new ChannelFeed(c, "bad name", { rewind: 3 }).start()).toThrow(BrainWsError);
    live.stop();
    rewound.stop();
  });
});

describe("history", () => {
  test("fetchHistory reads pages, says when a since is outside the window, and types errors", async () => {
    const server = await startServer(["--history-size", "4"]);
    await publish(server.http, 1, 6);
    const latest = await fetchHistory(server.http, "missions");
    expect([latest.offset, latest.complete, latest.events.map((e) => e.offset)]).toEqual([6, true, [3, 4, 5, 6]]);
    const page = await fetchHistory(server.http, "missions", { limit: 2, since: { epoch: latest.epoch, offset: 3 } });
    expect([page.complete, page.events.map((e) => e.offset)]).toEqual([true, [4, 5]]);
    const gone = await fetchHistory(server.http, "missions", { limit: 2, since: { epoch: latest.epoch, offset: 1 } });
    expect([gone.complete, gone.events.map((e) => e.offset)]).toEqual([false, [3, 4]]);
    const failure = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        return e instanceof BrainWsError ? [e.kind, e.status, e.code] : [`other: ${String(e)}`];
      }
      return ["no error"];
    };
    expect(await failure(fetchHistory(server.http, "chat-x"))).toEqual(["server", 404, "not_found"]);
    expect(await failure(fetchHistory(server.http, "missions", { limit: 5 }))).toEqual(["server", 400, "invalid_message"]);
    const port = await freePort();
    const nobody = await fetchHistory(`http://127.0.0.1:${port}`, "missions").catch((e: unknown) => e);
    expect(nobody).toBeInstanceOf(BrainWsError);
    expect([(nobody as BrainWsError).kind, (nobody as BrainWsError).code, (nobody as BrainWsError).status]).toEqual([
      "server",
      "unreachable",
      undefined,
    ]);
    expect((nobody as BrainWsError).message).toBe(
      `unreachable: GET http://127.0.0.1:${port}/api/ws/channels/missions/history failed (TypeError: fetch failed); ` +
        "in a browser the page must have the server's origin (the admin API sends no CORS headers; docs/clients.md, Presence)",
    );
  });
});
