"""`openlocker audit head | verify | show`: anchor, check and read the security audit trail."""

from __future__ import annotations

import argparse
import json
import sys

from gateway.cli.common import Subparsers, open_store, positive_int
from gateway.domain.audit import AuditAction
from gateway.service.audit import Anchor, AuditService
from gateway.settings import Settings


def register(sub: Subparsers) -> None:
    audit = sub.add_parser("audit", help="the hash-chained security audit trail")
    commands = audit.add_subparsers(required=True, metavar="ACTION")

    commands.add_parser(
        "head", help="print the head (POSITION:HASH); keep it outside the database"
    ).set_defaults(func=_head)

    verify = commands.add_parser(
        "verify", help="check the chain; exit 0 if intact, 1 at the first broken entry"
    )
    verify.add_argument(
        "--expect-head",
        type=_anchor,
        metavar="POS:HASH",
        help="a head printed earlier: also finds entries deleted from the end since then",
    )
    verify.set_defaults(func=_verify)

    show = commands.add_parser("show", help="print the newest entries, oldest first")
    show.add_argument("--limit", type=positive_int, default=20, help="how many (default 20)")
    show.add_argument(
        "--action",
        type=_action,
        metavar="ACTION",
        help=f"only this action ({', '.join(a.value for a in AuditAction)})",
    )
    show.add_argument("--subject", help="only entries about this (a locker id, a parcel uid...)")
    show.set_defaults(func=_show)


async def _head(args: argparse.Namespace, settings: Settings) -> int:
    async with open_store(settings) as store:
        print(await AuditService(store=store).head())
    return 0


async def _verify(args: argparse.Namespace, settings: Settings) -> int:
    async with open_store(settings) as store:
        report = await AuditService(store=store).verify(expect_head=args.expect_head)
    if report.problem is None:
        print(f"audit trail intact: {report.checked} entries, head {report.head}")
        return 0
    problem = report.problem
    print(
        f"audit trail BROKEN at position {problem.position} ({problem.breach}): {problem.message}",
        file=sys.stderr,
    )
    print(f"  {report.checked} entries verified before the break", file=sys.stderr)
    return 1


async def _show(args: argparse.Namespace, settings: Settings) -> int:
    async with open_store(settings) as store:
        rows = await AuditService(store=store).latest(
            args.limit, action=args.action, subject=args.subject
        )
    if not rows:
        print("no audit entries")
    for row in rows:
        details = json.dumps(row.details, sort_keys=True, separators=(",", ":"))
        at = row.at.isoformat(timespec="seconds")
        print(f"{row.position:>8} {at} {row.action:<16} {row.actor} {row.subject} {details}")
    return 0


def _anchor(text: str) -> Anchor:
    try:
        return Anchor.parse(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def _action(text: str) -> AuditAction:
    try:
        return AuditAction(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"unknown audit action {text!r}") from err
