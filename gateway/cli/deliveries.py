"""`openlocker deliveries list | replay`: all deliveries, dead letters and their replay."""

from __future__ import annotations

import argparse
import json
import sys

from gateway.cli.common import Subparsers, open_store, positive_int
from gateway.domain.webhooks import DeliveryState
from gateway.http.render import delivery_to_wire
from gateway.service.deliveries import DeliveryService
from gateway.settings import Settings
from gateway.store import Delivery
from gateway.wire import dump

_MAX_ERROR_SHOWN = 60  # a table line stays readable; --json has the whole text


def register(sub: Subparsers) -> None:
    deliveries = sub.add_parser(
        "deliveries", help="deliveries to webhooks and connectors: list, replay dead letters"
    )
    commands = deliveries.add_subparsers(required=True, metavar="ACTION")

    listing = commands.add_parser("list", help="list deliveries, oldest first")
    listing.add_argument("--carrier", help="only this carrier's")
    listing.add_argument("--target", help="only to this webhook or connector attachment id")
    listing.add_argument("--state", type=_state, help=f"only in this state ({_STATES})")
    listing.add_argument("--limit", type=positive_int, default=50, help="how many (default 50)")
    listing.add_argument("--after", type=positive_int, metavar="ID", help="start after this id")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(func=_list)

    replay = commands.add_parser(
        "replay", help="send dead (or skipped) deliveries again with a fresh schedule"
    )
    replay.add_argument("ids", nargs="*", type=positive_int, metavar="ID", help="delivery ids")
    replay.add_argument("--all-dead", action="store_true", help="every dead delivery of --target")
    replay.add_argument("--target", help="the webhook or connector attachment id (--all-dead)")
    replay.set_defaults(func=_replay)


async def _list(args: argparse.Namespace, settings: Settings) -> int:
    async with open_store(settings) as store:
        items, more = await DeliveryService(store=store).list(
            args.carrier,
            target_id=args.target,
            state=args.state,
            after_id=args.after,
            limit=args.limit,
        )
    for item in items:
        print(json.dumps(dump(delivery_to_wire(item))) if args.json else _line(item))
    if not items and not args.json:
        print("no deliveries")
    if more is not None and not args.json:
        print(f"(more: --after {items[-1].id})")
    return 0


async def _replay(args: argparse.Namespace, settings: Settings) -> int:
    if args.all_dead == bool(args.ids):
        print("error: give delivery ids, or --all-dead --target ID", file=sys.stderr)
        return 2
    if args.all_dead and not args.target:
        print("error: --all-dead needs --target ID", file=sys.stderr)
        return 2
    if args.target and not args.all_dead:
        print("error: --target only goes with --all-dead", file=sys.stderr)
        return 2
    async with open_store(settings) as store:
        service = DeliveryService(store=store)
        if args.all_dead:
            count = await service.replay_all_dead(args.target)
            print(f"{count} dead deliveries of {args.target} replayed")
            return 0
        outcomes = await service.replay_ids(args.ids)
    for outcome in outcomes:
        if outcome.delivery is not None:
            print(f"{outcome.delivery_id} replayed: pending again")
        else:
            print(f"{outcome.delivery_id} refused: {outcome.refused}", file=sys.stderr)
    return 0 if all(o.refused is None for o in outcomes) else 1


def _line(d: Delivery) -> str:
    error = d.last_error or ""
    if len(error) > _MAX_ERROR_SHOWN:
        error = error[: _MAX_ERROR_SHOWN - 1] + "…"
    status = "-" if d.last_status is None else str(d.last_status)
    at = d.created_at.isoformat(timespec="seconds")
    target = f"{d.target_kind}:{d.target_id}"
    return (
        f"{d.id:>8} {d.state:<9} {d.attempts:>3} {d.carrier_id} {target} {d.type} "
        f"{at} {status} {error}"
    ).rstrip()


_STATES = ", ".join(s.value for s in DeliveryState)


def _state(text: str) -> DeliveryState:
    try:
        return DeliveryState(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"unknown state {text!r} (one of {_STATES})") from err
