"""Benchmark the OpenAI-compatible model layer against FakeOpenAIServer on 127.0.0.1.

Measures:
  1. per-call overhead (client + loopback HTTP + test server), non-streaming and streaming;
  2. fan-out: N concurrent calls whose server takes ``delay`` seconds each — to one model
     with no concurrency limit, and spread over N/10 model instances (a big fusion pool) —
     wall time against the ideal;
  3. a load run with seeded random faults (500/502/503/429) and real retry backoff;
  4. the longest event-loop stall during a fresh model's first call (the client, its SSL
     context and the price database are built in a worker thread), against the time
     building the client takes when done on the loop;
  5. a long streamed answer (2,000 chunks): time per chunk, each read bounded by the
     call's deadline;
  6. structured output: the first call to a server that refuses json_schema (it steps
     down, one extra round trip) against the calls after it.

Run:  .venv/bin/python benchmarks/bench_openai_compat.py
Everything is bounded (a few hundred requests, well under a minute) and stays on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time

import httpx

from fusionkit.errors import ModelError
from fusionkit.models.openai import OpenAICompatModel
from fusionkit.testing import FakeOpenAIServer


async def overhead(srv: FakeOpenAIServer, n: int) -> tuple[float, float]:
    srv.configure("fast", reply="the quick brown fox jumps over the lazy dog")
    model = OpenAICompatModel("fast", base_url=srv.base_url, cache=False)
    await model.acomplete("warm up")
    plain, streamed = [], []
    for i in range(n):
        t = time.perf_counter()
        await model.acomplete(f"q{i}")
        plain.append(time.perf_counter() - t)
        t = time.perf_counter()
        async for _ in model.astream(f"s{i}"):
            pass
        streamed.append(time.perf_counter() - t)
    await model.aclose()
    return statistics.median(plain), statistics.median(streamed)


async def fan_out(srv: FakeOpenAIServer, n: int, delay: float) -> tuple[float, int]:
    srv.configure("slow", reply="ok", delay_s=delay)
    model = OpenAICompatModel("slow", base_url=srv.base_url, cache=False, max_concurrency=None)
    t = time.perf_counter()
    await asyncio.gather(*(model.acomplete(f"q{i}") for i in range(n)))
    wall = time.perf_counter() - t
    await model.aclose()
    return wall, srv.max_in_flight("slow")


async def fan_out_pool(srv: FakeOpenAIServer, n: int, delay: float, models: int) -> float:
    srv.configure("slow", reply="ok", delay_s=delay)
    pool = [
        OpenAICompatModel("slow", name=f"m{i}", base_url=srv.base_url, cache=False)
        for i in range(models)
    ]
    t = time.perf_counter()
    await asyncio.gather(*(pool[i % models].acomplete(f"q{i}") for i in range(n)))
    wall = time.perf_counter() - t
    for m in pool:
        await m.aclose()
    return wall


async def faulty(srv: FakeOpenAIServer, n: int, rate: float) -> tuple[int, int, float]:
    srv.configure("flaky", reply="ok", delay_s=0.05, fault_rate=rate, seed=0)
    model = OpenAICompatModel("flaky", base_url=srv.base_url, cache=False, max_concurrency=32)

    async def one(i: int) -> bool:
        try:
            await model.acomplete(f"q{i}")
            return True
        except ModelError:
            return False

    t = time.perf_counter()
    ok = sum(await asyncio.gather(*(one(i) for i in range(n))))
    wall = time.perf_counter() - t
    await model.aclose()
    return ok, srv.attempts("flaky"), wall


async def first_call_stall(srv: FakeOpenAIServer) -> tuple[float, float]:
    """(longest loop stall during a fresh model's first call, client build time on the loop)."""
    srv.configure("fresh", reply="ok")
    model = OpenAICompatModel("fresh", base_url=srv.base_url, cache=False)
    stalls: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.002)
            now = time.perf_counter()
            stalls.append(now - last - 0.002)
            last = now

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    await model.acomplete("hi")
    done.set()
    await tick
    await model.aclose()
    t = time.perf_counter()
    client = httpx.AsyncClient()  # what the first call used to do on the loop
    on_loop = time.perf_counter() - t
    await client.aclose()
    return max(stalls), on_loop


async def long_stream(srv: FakeOpenAIServer, chunks: int) -> float:
    srv.configure("long", reply=" ".join(["w"] * chunks))
    model = OpenAICompatModel("long", base_url=srv.base_url, cache=False)
    await model.acomplete("warm up", max_tokens=1)
    t = time.perf_counter()
    stream = model.astream("go", max_tokens=chunks)
    n = 0
    async for _ in stream:
        n += 1
    wall = time.perf_counter() - t
    await model.aclose()
    assert n == chunks, n
    return wall / chunks


CITY = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}


async def step_down(srv: FakeOpenAIServer, n: int) -> tuple[float, float]:
    import jsonschema  # noqa: F401 - its import (seconds: rfc3987-syntax) is not the step-down

    srv.configure("plain", reply='{"city": "Paris"}', structured="json_object")
    model = OpenAICompatModel("plain", base_url=srv.base_url, cache=False)
    t = time.perf_counter()
    await model.acomplete("city?", schema=CITY)
    first = time.perf_counter() - t
    later = []
    for i in range(n):
        t = time.perf_counter()
        await model.acomplete(f"city {i}?", schema=CITY)
        later.append(time.perf_counter() - t)
    await model.aclose()
    return first, statistics.median(later)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="sequential calls for overhead")
    parser.add_argument("--fan-out", type=int, default=300, help="concurrent slow calls")
    parser.add_argument("--delay", type=float, default=0.5, help="server delay per slow call")
    parser.add_argument("--faulty", type=int, default=200, help="calls in the fault run")
    parser.add_argument("--fault-rate", type=float, default=0.2)
    args = parser.parse_args()
    os.environ.setdefault("FUSIONKIT_HOME", tempfile.mkdtemp(prefix="fk-bench-"))
    with FakeOpenAIServer() as srv:
        plain, streamed = asyncio.run(overhead(srv, args.calls))
        print(
            f"per-call overhead, median of {args.calls}: non-stream {plain * 1e3:.2f} ms, "
            f"stream {streamed * 1e3:.2f} ms"
        )
        wall, peak = asyncio.run(fan_out(srv, args.fan_out, args.delay))
        print(
            f"fan-out: {args.fan_out} concurrent calls x {args.delay} s server delay -> "
            f"wall {wall:.2f} s (ideal {args.delay:.2f} s), peak in flight {peak}"
        )
        wall = asyncio.run(fan_out_pool(srv, args.fan_out, args.delay, args.fan_out // 10))
        print(
            f"fan-out over {args.fan_out // 10} model instances (10 calls each, default "
            f"max_concurrency=8): wall {wall:.2f} s (ideal {2 * args.delay:.2f} s)"
        )
        ok, attempts, wall = asyncio.run(faulty(srv, args.faulty, args.fault_rate))
        print(
            f"faults: {args.faulty} calls at fault rate {args.fault_rate} (seed 0), "
            f"max_retries=2 -> {ok} succeeded, {attempts} attempts, wall {wall:.2f} s"
        )
        stall, on_loop = asyncio.run(first_call_stall(srv))
        print(
            f"first call of a fresh model: longest event-loop stall {stall * 1e3:.1f} ms "
            f"(building the client on the loop would take {on_loop * 1e3:.1f} ms)"
        )
        per_chunk = asyncio.run(long_stream(srv, 2000))
        print(f"long stream: 2000 chunks, {per_chunk * 1e6:.0f} us per chunk")
        first, later = asyncio.run(step_down(srv, 50))
        print(
            f"structured output, server refusing json_schema: first call {first * 1e3:.2f} ms "
            f"(steps down), later calls median {later * 1e3:.2f} ms"
        )


if __name__ == "__main__":
    main()
