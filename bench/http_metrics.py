"""Benchmark: what the telemetry middleware (correlation id, latency histogram, access log)
adds to one HTTP request, next to the same request without it.

One aiohttp app per variant, a trivial handler (`GET /v1/parcels/{parcel_id}` answering 200),
a keep-alive client in the same process sending requests one at a time; the variants run in
alternating rounds so that a busy shared machine slows them alike. Printed: p50 per request of
each variant and the difference, which is the middleware's cost.
Usage: python -m bench.http_metrics [--requests 3000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import statistics
import time

import aiohttp
from aiohttp import web

from gateway.http.telemetry import Ops, install
from gateway.observability.health import Readiness
from gateway.observability.logs import handler_for
from gateway.observability.metrics import Metrics


async def _handler(request: web.Request) -> web.Response:
    return web.Response(text=request.match_info["parcel_id"])


async def _nothing() -> None:
    return None


def _app(telemetry: bool) -> web.Application:
    app = web.Application()
    app.router.add_get("/v1/parcels/{parcel_id}", _handler)
    if telemetry:
        readiness = Readiness(ping_database=_nothing, broker_connected=lambda: None)
        install(app, Ops(metrics=Metrics(), figures=None, readiness=readiness))
    return app


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/v1/parcels/P-1"


async def _round(session: aiohttp.ClientSession, url: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        async with session.get(url) as response:
            await response.read()
        times.append(time.perf_counter() - started)
    return times


async def main(requests: int, rounds: int) -> None:
    access = logging.getLogger("gateway.http.access")
    sink = handler_for("json", io.StringIO())
    variants = {"bare request": (False, False), "+ metrics": (True, False)}
    variants["+ metrics + JSON access log"] = (True, True)
    served = {name: await _serve(_app(telemetry)) for name, (telemetry, _) in variants.items()}
    samples: dict[str, list[float]] = {name: [] for name in variants}
    try:
        async with aiohttp.ClientSession() as session:
            for _runner, url in served.values():
                await _round(session, url, 200)  # warm up: connection, code paths
            for _ in range(rounds):
                for name, (_, logged) in variants.items():
                    if logged:
                        access.addHandler(sink)
                        access.setLevel(logging.INFO)
                    try:
                        samples[name] += await _round(session, served[name][1], requests)
                    finally:
                        access.removeHandler(sink)
                        access.setLevel(logging.NOTSET)
    finally:
        for runner, _ in served.values():
            await runner.cleanup()
    bare = statistics.median(samples["bare request"])
    print(f"HTTP metrics middleware, {requests * rounds} sequential requests per variant:")
    for name, times in samples.items():
        p50 = statistics.median(times)
        extra = "" if name == "bare request" else f"   (+{(p50 - bare) * 1e6:5.1f} µs)"
        print(f"  {name:<28} p50 {p50 * 1e6:7.1f} µs{extra}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rounds))
