"""The `openlocker` command: run the gateway, provision carriers and lockers, manage trust.

Each sub-command group lives in its own module with a `register(subparsers)` function; a
command is an `async def (args, settings) -> int` set as the parser's `func`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from gateway.cli import (
    audit,
    carriers,
    connectors,
    deliveries,
    events,
    keys,
    lockers,
    mqtt_access,
    run,
)
from gateway.errors import OpenLockerError
from gateway.settings import load_settings

log = logging.getLogger("openlocker")

# The command groups, in the order `openlocker --help` lists them.
_GROUPS = (run, carriers, lockers, keys, audit, mqtt_access, connectors, deliveries, events)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        # Third-party chatter (the embedded broker logs every packet at INFO) only with -v.
        for noisy in ("amqtt", "transitions", "aiohttp.access", "httpx"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        if getattr(args, "quiet_logs", False):
            logging.getLogger().setLevel(logging.WARNING)
    try:
        settings = load_settings(
            args.config,
            network_id=args.network_id,
            store={"database_url": args.database_url},
            http={
                "host": getattr(args, "http_host", None),
                "port": getattr(args, "http_port", None),
            },
        )
        code: int = run.run_event_loop(args.func(args, settings), settings.runtime.event_loop)
        return code
    except OpenLockerError as err:
        print(f"error: {err}", file=sys.stderr)
        for issue in err.issues:
            print(f"  at {issue.pointer}: {issue.detail}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="openlocker", description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, help="TOML settings file (env OPENLOCKER_* overrides)")
    p.add_argument("--database-url", help="sqlite+aiosqlite:///path or postgresql://...")
    p.add_argument("--network-id", help="this network's id (the `aud` of carrier tokens)")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(required=True, metavar="COMMAND")
    for group in _GROUPS:
        group.register(sub)
    return p
