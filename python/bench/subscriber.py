"""How much `BrainClient` costs over a bare `websockets` loop.

    python bench/subscriber.py [--events 20000] [--rounds 3]

Starts the server binary (client publish on `bench`, no rate limit, a large
outbound queue and history so nothing is dropped), then per round and per
subscriber kind: one raw WebSocket connection publishes `--events` events
as fast as it can, and the subscriber under test counts them until the last
arrives. The baseline is the specification's test-client loop (json.loads,
answer pings); `BrainClient` adds typed decoding, offset tracking and the
bounded queue. Prints events/s per kind (median of rounds) and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from brain_ws import BrainClient, Event
from tests.server import Server


async def publish(url: str, events: int) -> None:
    async with connect(url, proxy=None, max_size=None) as ws:
        await ws.recv()  # connected
        for n in range(events):
            await ws.send(
                json.dumps(
                    {"type": "publish", "channel": "bench", "event": "tick", "data": {"n": n}}
                )
            )


async def raw_round(url: str, events: int) -> float:
    async with connect(url, proxy=None, max_size=None) as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "subscribe", "channel": "bench"}))
        await ws.recv()  # subscribed
        start = time.perf_counter()
        sender = asyncio.create_task(publish(url, events))
        seen = 0
        while seen < events:
            data = json.loads(await ws.recv())
            if data.get("type") == "ping":
                await ws.send(json.dumps({"type": "pong"}))
            elif data.get("type") == "tick":
                seen += 1
        elapsed = time.perf_counter() - start
        await sender
    return events / elapsed


async def client_round(url: str, events: int) -> float:
    async with BrainClient(url) as client:
        sub = client.subscribe("bench")
        await sub.ready()
        start = time.perf_counter()
        sender = asyncio.create_task(publish(url, events))
        seen = 0
        async for item in sub:
            if isinstance(item, Event) and item.type == "tick":
                seen += 1
                if seen == events:
                    break
        elapsed = time.perf_counter() - start
        await sender
        assert sub.duplicates == 0 and sub.resets == 0
    return events / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    server = Server(
        "--client-publish", "bench", "--rate-limit", "0", "--outbound-queue", "1000000",
        "--history-channel", "bench", "--history-size", str(args.events),
    )  # fmt: skip
    try:
        raw: list[float] = []
        client: list[float] = []
        for _ in range(args.rounds):  # alternate, so drift hits both alike
            raw.append(await raw_round(server.ws, args.events))
            client.append(await client_round(server.ws, args.events))
    finally:
        server.stop()
    r, c = statistics.median(raw), statistics.median(client)
    print(f"events per round: {args.events}, rounds: {args.rounds} (median)")
    print(f"{'subscriber':<34}{'events/s':>12}{'ratio':>8}")
    print(f"{'websockets loop (baseline)':<34}{r:>12,.0f}{1.0:>8.2f}")
    print(f"{'BrainClient (typed, recovery)':<34}{c:>12,.0f}{c / r:>8.2f}")


if __name__ == "__main__":
    asyncio.run(main())
