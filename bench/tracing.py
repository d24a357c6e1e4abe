"""Benchmark: what `[tracing]` costs, off (the default) and on.

Off: the hooks on the hot paths (an HTTP request's span, a locker command's span, the outbox's
`traceparent()`, a delivery's `inject`) each read one module global; timed per call next to an
empty function call, and tracemalloc counts what they allocate (nothing is the promise).

On: the telemetry middleware's app of bench.http_metrics (a trivial handler behind the
correlation id, latency histogram and access-log middleware), keep-alive requests one at a time,
in alternating rounds with tracing off, on with spans made but not exported, and on with the
SDK's batch processor exporting to memory. Printed: p50 per request and the difference.
Usage: python -m bench.tracing [--requests 3000] [--rounds 5] [--calls 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import timeit
import tracemalloc
from collections.abc import AsyncIterator, Callable

import aiohttp
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bench.http_metrics import _app, _round, _serve
from gateway.observability import tracing
from gateway.observability.tracing_otel import OtelTracing
from gateway.settings import TracingSettings

_HEADERS = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}


def _empty() -> None:
    return None


def _http_hook() -> None:
    with tracing.server_span("GET", _HEADERS) as span:
        if span is not None:
            span.finished("/v1/parcels/{parcel_id}", 200)


def _command_hook() -> None:
    with tracing.command_span("OpenCompartment", "WAW-1"):
        tracing.note("olp.outcome", "result")


def _outbox_hook() -> None:
    tracing.traceparent()


def _delivery_hook() -> None:
    tracing.inject({})


def _per_call_ns(call: Callable[[], None], calls: int) -> float:
    return min(timeit.repeat(call, number=calls, repeat=5)) / calls * 1e9


def _allocated_blocks(call: Callable[[], None], calls: int) -> int:
    call()  # caches warmed before counting
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for _ in range(calls):
        call()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    here = [tracemalloc.Filter(True, tracing.__file__)]
    grown = after.filter_traces(here).compare_to(before.filter_traces(here), "filename")
    return sum(max(0, stat.count_diff) for stat in grown)


def off(calls: int) -> None:
    assert tracing.active() is None
    base = _per_call_ns(_empty, calls)
    print(f"tracing off, {calls} calls each (best of 5), next to an empty call ({base:.0f} ns):")
    hooks = {
        "HTTP request span + finished": _http_hook,
        "command span + note": _command_hook,
        "outbox traceparent()": _outbox_hook,
        "delivery inject({})": _delivery_hook,
    }
    for name, hook in hooks.items():
        ns = _per_call_ns(hook, calls)
        blocks = _allocated_blocks(hook, 10_000)
        kept = f"blocks kept in tracing.py: {blocks}"
        print(f"  {name:<30} {ns:6.0f} ns  (+{ns - base:4.0f} ns)  {kept}")


@contextlib.asynccontextmanager
async def _tracing(mode: str) -> AsyncIterator[None]:
    if mode == "off":
        yield
        return
    settings = TracingSettings(enabled=True, exporter="none")
    async with tracing.installed(settings, instance="bench"):
        tracer = tracing.active()
        assert isinstance(tracer, OtelTracing)
        if mode == "exported":
            tracer.provider.add_span_processor(BatchSpanProcessor(InMemorySpanExporter()))
        yield


async def on(requests: int, rounds: int) -> None:
    modes = {"off": "tracing off", "made": "on, spans not exported", "exported": "on, batch export"}
    runner, url = await _serve(_app(telemetry=True))
    samples: dict[str, list[float]] = {mode: [] for mode in modes}
    try:
        async with aiohttp.ClientSession() as session:
            for mode in modes:
                async with _tracing(mode):
                    await _round(session, url, 200)  # warm up
            for _ in range(rounds):
                for mode in modes:
                    async with _tracing(mode):
                        samples[mode] += await _round(session, url, requests)
    finally:
        await runner.cleanup()
    base = statistics.median(samples["off"])
    print(f"HTTP request through the telemetry middleware, {requests * rounds} per variant:")
    for mode, label in modes.items():
        p50 = statistics.median(samples[mode])
        extra = "" if mode == "off" else f"   (+{(p50 - base) * 1e6:5.1f} µs)"
        print(f"  {label:<26} p50 {p50 * 1e6:7.1f} µs{extra}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=1_000_000)
    args = parser.parse_args()
    off(args.calls)
    asyncio.run(on(args.requests, args.rounds))
