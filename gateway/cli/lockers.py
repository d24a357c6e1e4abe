"""`openlocker locker add | list | show | keypad-clear`: provision lockers, end lockouts."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from gateway.cli.common import Subparsers, open_store
from gateway.domain.locker import availability
from gateway.errors import OpenLockerError
from gateway.service.keypad import KeypadLockouts
from gateway.service.layouts import parse_layout
from gateway.service.lockers import LockerService
from gateway.settings import Settings


def register(sub: Subparsers) -> None:
    locker = sub.add_parser(
        "locker", aliases=["lockers"], help="provision lockers, clear keypad lockouts"
    ).add_subparsers(required=True)
    ladd = locker.add_parser("add", help="provision a locker from a YAML/JSON layout file")
    ladd.add_argument("layout", type=Path)
    ladd.set_defaults(func=_locker_add)
    locker.add_parser("list", help="list lockers").set_defaults(func=_locker_list)
    show = locker.add_parser("show", help="a locker's compartments and their states")
    show.add_argument("locker_id")
    show.set_defaults(func=_locker_show)
    clear = locker.add_parser(
        "keypad-clear", help="end a locker's keypad lockout (audited, announced to webhooks)"
    )
    clear.add_argument("locker_id")
    clear.add_argument("--reason", required=True, help="why (kept in the audit trail)")
    clear.add_argument(
        "--as",
        dest="operator",
        default=None,
        help="the operator's name in the audit trail (default: the login name)",
    )
    clear.set_defaults(func=_keypad_clear)


async def _locker_add(args: argparse.Namespace, settings: Settings) -> int:
    layout = parse_layout(args.layout.read_text())
    locker, doors = layout.to_domain()
    async with open_store(settings) as store:
        await LockerService(store=store).provision(locker, doors)
    sizes = ", ".join(
        f"{a.total}x{a.size_class}" + ("" if a.temperature == "ambient" else f" {a.temperature}")
        for a in availability(doors)
    )
    print(f"locker {locker.id!r} provisioned with {len(doors)} compartments ({sizes})")
    return 0


async def _locker_list(args: argparse.Namespace, settings: Settings) -> int:
    async with open_store(settings) as store:
        for lk in await LockerService(store=store).all():
            print(f"{lk.id}\t{lk.name}\t{lk.location.lat},{lk.location.lon}\tadapter={lk.adapter}")
    return 0


async def _locker_show(args: argparse.Namespace, settings: Settings) -> int:
    async with open_store(settings) as store:
        doors = await LockerService(store=store).compartments(args.locker_id)
    rows = [
        {
            "code": c.code,
            "sizeClass": c.size_class,
            "state": c.state,
            "door": c.door,
            "itemSensor": c.item,
            "parcel": c.parcel_uid,
        }
        for c in doors
    ]
    print(json.dumps(rows, indent=2))
    return 0


async def _keypad_clear(args: argparse.Namespace, settings: Settings) -> int:
    operator = args.operator or getpass.getuser()
    async with open_store(settings) as store:
        try:
            done = await KeypadLockouts(store=store).clear(
                args.locker_id, actor=f"operator:{operator}", reason=args.reason
            )
        except OpenLockerError as err:
            print(f"not cleared: {err}", file=sys.stderr)
            return 1
    print(
        f"keypad of locker {done.locker_id} cleared by operator:{operator} "
        f"(it was locked until {done.locked_until.isoformat()}, {done.reason} limit, "
        f"lockout {done.lockouts} in a row); {done.queued} webhook subscription(s) notified"
    )
    return 0
