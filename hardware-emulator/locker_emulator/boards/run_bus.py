"""What every board-bus command shares: its control-API options and running until a signal."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web

from locker_emulator.boards.control import BoardBus
from locker_emulator.control_api import ControlApi


def add_control_arguments(command: Any) -> None:
    """The control-API and logging options of a board-bus subcommand."""
    command.add_argument("--control-host", default="127.0.0.1")
    command.add_argument("--control-port", type=int, default=8090, help="0 picks a free port")
    command.add_argument("--no-control", action="store_true", help="do not serve the control API")
    command.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )


async def run_until_stopped(
    args: argparse.Namespace,
    bus: BoardBus,
    *,
    extra_routes: Sequence[Callable[[web.Application], None]] = (),
) -> None:
    """Serve the control API for `bus` (unless --no-control) until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    control = None
    if not args.no_control:
        control = ControlApi(
            lockers={},
            host=args.control_host,
            port=args.control_port,
            buses={bus.name: bus},
            extra_routes=tuple(extra_routes),
        )
        await control.start()
        print(f"control API listening on {control.url}", flush=True)
    try:
        await stop.wait()
    finally:
        if control is not None:
            await control.stop()
    print("stopping", flush=True)
