"""`openlocker hold-policy set | show | list | delete`: hold-time policies per network,
carrier and locker (the admin API's `/v1/admin/hold-policies`, from the host)."""

from __future__ import annotations

import argparse
from datetime import timedelta

from gateway.cli.common import Subparsers, open_store
from gateway.domain.hold_policy import HoldPolicy, HoldPolicyRecord, PolicyScope, settings_hold
from gateway.errors import ValidationFailed
from gateway.service.hold_policies import HoldPolicies
from gateway.settings import Settings
from gateway.store import Store

ACTOR = "operator"  # whoever holds the host, as the other provisioning commands


def register(sub: Subparsers) -> None:
    group = sub.add_parser(
        "hold-policy", help="hold-time policies per network, carrier and locker"
    ).add_subparsers(required=True)
    put = group.add_parser("set", help="set (or replace) one scope's policy")
    _scope_args(put)
    put.add_argument("--hold-days", type=int, help="days a deposited parcel waits (1..30)")
    put.add_argument(
        "--reminder-hours", help="hours before the deadline to remind, e.g. 48,6 ('' for none)"
    )
    put.add_argument("--extension-days", type=int, help="most days a recipient may add (0..14)")
    put.add_argument("--reason", help="why, for the audit trail")
    put.set_defaults(func=_set)
    show = group.add_parser("show", help="one scope's policy")
    _scope_args(show)
    show.set_defaults(func=_show)
    listing = group.add_parser("list", help="every policy set")
    listing.add_argument("--scope", choices=[s.value for s in PolicyScope])
    listing.set_defaults(func=_list)
    delete = group.add_parser("delete", help="remove one scope's policy")
    _scope_args(delete)
    delete.add_argument("--reason")
    delete.set_defaults(func=_delete)


def _scope_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scope", choices=[s.value for s in PolicyScope])
    parser.add_argument("scope_id", help="the network id, carrier id or locker id")


def _service(s: Settings, store: Store) -> HoldPolicies:
    base = settings_hold(
        s.parcels.pickup_window,
        s.parcels.reminder_lead,
        timedelta(days=s.parcels.recipient_extension_days),
    )
    return HoldPolicies(store=store, base=base, network_id=s.network_id)


def _hours(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValidationFailed(
            f"--reminder-hours: whole hours separated by commas, not {text!r}"
        ) from None


def _line(record: HoldPolicyRecord) -> str:
    p = record.policy
    hours = "-" if p.reminder_hours is None else ",".join(map(str, p.reminder_hours)) or "none"
    return (
        f"{record.scope}\t{record.scope_id}\tholdDays={p.hold_days if p.hold_days else '-'}"
        f"\treminderHours={hours}"
        f"\textensionDays={'-' if p.extension_days is None else p.extension_days}"
        f"\t{record.updated_by}\t{record.updated_at.isoformat()}"
    )


async def _set(args: argparse.Namespace, settings: Settings) -> int:
    try:
        policy = HoldPolicy(
            hold_days=args.hold_days,
            reminder_hours=_hours(args.reminder_hours),
            extension_days=args.extension_days,
        )
    except ValueError as err:
        raise ValidationFailed(str(err)) from None
    if policy.empty:
        raise ValidationFailed("give --hold-days, --reminder-hours or --extension-days")
    async with open_store(settings) as store:
        record = await _service(settings, store).put(
            PolicyScope(args.scope), args.scope_id, policy, actor=ACTOR, reason=args.reason
        )
    print(_line(record))
    return 0


async def _show(args: argparse.Namespace, settings: Settings) -> int:
    async with open_store(settings) as store:
        record = await _service(settings, store).get(PolicyScope(args.scope), args.scope_id)
    print(_line(record))
    return 0


async def _list(args: argparse.Namespace, settings: Settings) -> int:
    scope = PolicyScope(args.scope) if args.scope else None
    async with open_store(settings) as store:
        for record in await _service(settings, store).list(scope):
            print(_line(record))
    return 0


async def _delete(args: argparse.Namespace, settings: Settings) -> int:
    async with open_store(settings) as store:
        await _service(settings, store).delete(
            PolicyScope(args.scope), args.scope_id, actor=ACTOR, reason=args.reason
        )
    print(f"hold policy of {args.scope} {args.scope_id} removed")
    return 0
