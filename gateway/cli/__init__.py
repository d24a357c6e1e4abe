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
    hold_policies,
    keys,
    lockers,
    mqtt_access,
    operators,
    run,
)
from gateway.errors import OpenLockerError
from gateway.observability import logs
from gateway.observability.logs import LogFormat
from gateway.settings import load_settings

log = logging.getLogger("openlocker")

# The command groups, in the order `openlocker --help` lists them.
_GROUPS = (
    run,
    carriers,
    lockers,
    hold_policies,
    keys,
    audit,
    mqtt_access,
    connectors,
    deliveries,
    events,
    operators,
)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Text until the settings are read (they may say JSON); third-party chatter only with -v.
    _logging(args, "text", "INFO")
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
        _logging(args, settings.logging.format, settings.logging.level)
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


def _logging(args: argparse.Namespace, fmt: LogFormat, level: str) -> None:
    quiet = getattr(args, "quiet_logs", False)  # the demo narrates; its log says only errors
    logs.configure(
        fmt="text" if quiet else fmt,  # the demo is read by a person, whatever the settings say
        level=logging.DEBUG if args.verbose else (logging.WARNING if quiet else level),
        quiet_third_parties=not args.verbose,
    )


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
