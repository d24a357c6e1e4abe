"""`openlocker events parked | retry`: locker events the gateway parked, and their retry.

A retry is applied by a running gateway, not by this command: the CLI is its own process and
has no adapters (a DoorOpened may need none, but a retried event must go through the same
pipeline as any other, with the services the gateway runs). The command flags the rows; every
gateway instance sweeps flagged rows every few seconds and applies each through its event
pipeline, exactly once (taking the row is the claim). `events parked` shows what happened:
a row that is gone was applied, a row with a new error failed again.
"""

from __future__ import annotations

import argparse
import json
import sys

from gateway.cli.common import Subparsers, open_store, positive_int
from gateway.service.parked_events import ParkedEvents
from gateway.settings import Settings
from gateway.store.parked_events import ParkedEvent

_MAX_ERROR_SHOWN = 70  # a table line stays readable; --json has the whole text


def register(sub: Subparsers) -> None:
    events = sub.add_parser(
        "events", help="locker events the gateway could not apply: list parked, retry"
    )
    commands = events.add_subparsers(required=True, metavar="ACTION")

    parked = commands.add_parser("parked", help="list parked events, oldest first")
    parked.add_argument("--locker", help="only this locker's")
    parked.add_argument("--limit", type=positive_int, default=50, help="how many (default 50)")
    parked.add_argument("--after", type=positive_int, metavar="ID", help="start after this id")
    parked.add_argument("--json", action="store_true", help="one JSON object per line")
    parked.set_defaults(func=_parked)

    retry = commands.add_parser(
        "retry", help="have a running gateway apply parked events again (within seconds)"
    )
    retry.add_argument("ids", nargs="*", type=positive_int, metavar="ID", help="parked ids")
    retry.add_argument("--all", action="store_true", help="every parked event (of --locker)")
    retry.add_argument("--locker", help="with --all: only this locker's")
    retry.set_defaults(func=_retry)


async def _parked(args: argparse.Namespace, settings: Settings) -> int:
    async with open_store(settings) as store:
        items = await ParkedEvents(store=store).page(
            locker_id=args.locker, after_id=args.after, limit=args.limit
        )
    for item in items:
        print(json.dumps(_json(item)) if args.json else _line(item))
    if not items and not args.json:
        print("no parked events")
    if len(items) == args.limit and not args.json:
        print(f"(more: --after {items[-1].id})")
    return 0


async def _retry(args: argparse.Namespace, settings: Settings) -> int:
    if args.all == bool(args.ids):
        print("error: give parked event ids, or --all [--locker ID]", file=sys.stderr)
        return 2
    if args.locker and not args.all:
        print("error: --locker only goes with --all", file=sys.stderr)
        return 2
    async with open_store(settings) as store:
        flagged = await ParkedEvents(store=store).request_retry(
            None if args.all else list(args.ids), locker_id=args.locker
        )
    missing = sorted(set(args.ids) - set(flagged))
    for parked_id in missing:
        print(f"{parked_id} refused: no such parked event", file=sys.stderr)
    print(
        f"{len(flagged)} parked event(s) flagged for retry; a running gateway applies them "
        "within seconds (`openlocker events parked` shows what is left)"
    )
    return 1 if missing else 0


def _line(p: ParkedEvent) -> str:
    error = p.error
    if len(error) > _MAX_ERROR_SHOWN:
        error = error[: _MAX_ERROR_SHOWN - 1] + "…"
    seq = "-" if p.event_seq is None else str(p.event_seq)
    flag = " retry-requested" if p.retry_requested_at is not None else ""
    at = p.parked_at.isoformat(timespec="seconds")
    return (
        f"{p.id:>6} {p.locker_id} {p.type:<15} seq {seq:>6} {p.event_id} {at} "
        f"attempts {p.attempts}{flag} {error}"
    )


def _json(p: ParkedEvent) -> dict[str, object]:
    return {
        "id": p.id,
        "lockerId": p.locker_id,
        "eventId": p.event_id,
        "eventSeq": p.event_seq,
        "type": p.type,
        "event": p.event,
        "error": p.error,
        "attempts": p.attempts,
        "parkedAt": p.parked_at.isoformat(),
        "retryRequestedAt": None
        if p.retry_requested_at is None
        else p.retry_requested_at.isoformat(),
        "lastRetryAt": None if p.last_retry_at is None else p.last_retry_at.isoformat(),
    }
