"""`openlocker serve | demo | migrate`: run the gateway, the demo site, or the migrations."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

from sqlalchemy.engine import make_url

from gateway.app import Gateway
from gateway.cli.common import Subparsers, open_store
from gateway.settings import Settings

T = TypeVar("T")


def run_event_loop(main: Coroutine[Any, Any, T], event_loop: str) -> T:
    """Run `main` to completion on the loop `[runtime] event_loop` names (asyncio or uvloop).

    uvloop is imported only when chosen: it is an optional extra (`openlocker[uvloop]`).
    """
    if event_loop == "uvloop":
        try:
            import uvloop
        except ImportError as err:
            main.close()
            raise ValueError(
                'runtime.event_loop = "uvloop" needs uvloop: pip install "openlocker[uvloop]"'
            ) from err
        return uvloop.run(main)
    return asyncio.run(main)


def register(sub: Subparsers) -> None:
    serve = sub.add_parser("serve", help="run the gateway (HTTP API) until interrupted")
    serve.add_argument("--http-host")
    serve.add_argument("--http-port", type=int)
    serve.set_defaults(func=_serve)

    demo = sub.add_parser(
        "demo", help="a whole site in one process: broker, gateway, emulated lockers, a carrier"
    )
    demo.set_defaults(func=_demo, quiet_logs=True)

    sub.add_parser("migrate", help="create or upgrade the database schema").set_defaults(
        func=_migrate
    )


async def _serve(args: argparse.Namespace, settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Gateway(settings=settings) as gateway:
        print(f"OpenLocker gateway for network {settings.network_id!r} on {gateway.base_url}")
        # Not the URL as written: a postgresql:// URL may carry a password.
        shown = make_url(settings.store.database_url).render_as_string(hide_password=True)
        print(f"  database: {shown}")
        print(f"  spec:     {gateway.base_url}/v1/spec/openapi.yaml   (Ctrl-C stops)")
        await stop.wait()
    return 0


async def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.demo import run_demo

    # The narration already tells what the emulated locker's warnings would (lost network,
    # a refused grant); keep its log for errors only.
    logging.getLogger("locker_emulator").setLevel(logging.ERROR)
    return await run_demo()


async def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    async with open_store(settings):
        print("database schema is up to date")
    return 0
