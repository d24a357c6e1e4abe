"""`openlocker operators add | reset | disable | list | tokens create | revoke | list`.

Passwords are read from the terminal (asked twice) or, for scripts, from standard input with
`--password-stdin`; never from the command line, where `ps` and shell history would keep them.
The audit chain names who acted as `cli:<OS user>`: whoever holds the host and the database.
"""

from __future__ import annotations

import argparse
import getpass
import math
import sys
from datetime import UTC, datetime, timedelta

from gateway.auth.operator_secrets import PasswordHashing
from gateway.cli.common import Subparsers, open_store
from gateway.domain.operators import Role
from gateway.service.operators import OperatorService
from gateway.settings import Settings
from gateway.store import Store


def register(sub: Subparsers) -> None:
    ops = sub.add_parser("operators", help="people who run the network: console and admin API")
    commands = ops.add_subparsers(required=True, metavar="ACTION")

    add = commands.add_parser("add", help="add an operator")
    add.add_argument("operator_id", metavar="ID", help="the login name (lower case)")
    add.add_argument("--name", default="", help="the person's name, for the trail and console")
    add.add_argument("--role", type=Role, choices=list(Role), default=Role.VIEWER)
    _password_flag(add)
    add.set_defaults(func=_add)

    reset = commands.add_parser(
        "reset", help="set a new password (ends every session), a new role, or re-enable"
    )
    reset.add_argument("operator_id", metavar="ID")
    reset.add_argument("--password", action="store_true", help="ask for a new password")
    _password_flag(reset)
    reset.add_argument("--role", type=Role, choices=list(Role))
    reset.add_argument("--enable", action="store_true", help="re-enable a disabled operator")
    reset.add_argument("--reason", required=True, help="why (kept in the audit trail)")
    reset.set_defaults(func=_reset)

    disable = commands.add_parser(
        "disable", help="refuse the operator from now on: sessions end, tokens are revoked"
    )
    disable.add_argument("operator_id", metavar="ID")
    disable.add_argument("--reason", required=True, help="why (kept in the audit trail)")
    disable.set_defaults(func=_disable)

    commands.add_parser("list", help="every operator").set_defaults(func=_list)

    tokens = commands.add_parser("tokens", help="personal API tokens for scripts")
    token_commands = tokens.add_subparsers(required=True, metavar="ACTION")
    create = token_commands.add_parser("create", help="a new token, printed once")
    create.add_argument("operator_id", metavar="ID")
    create.add_argument("--name", required=True, help="what the token is for")
    create.add_argument("--role", type=Role, choices=list(Role), help="default: the operator's")
    create.add_argument(
        "--expires-in-days", type=_days, help=f"default: never expires (at most {_MAX_DAYS})"
    )
    create.set_defaults(func=_token_create)
    revoke = token_commands.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("token_id", metavar="TOKEN_ID")
    revoke.set_defaults(func=_token_revoke)
    listing = token_commands.add_parser("list", help="an operator's tokens")
    listing.add_argument("operator_id", metavar="ID")
    listing.set_defaults(func=_token_list)


# Ten years: far enough for any script, near enough that `now + days` is always a real date
# (`inf` or 1e9 days overflowed datetime with a traceback).
_MAX_DAYS = 3650


def _days(text: str) -> float:
    """An argparse type: a finite number of days, more than 0 and at most _MAX_DAYS."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= _MAX_DAYS:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"expected days in (0, {_MAX_DAYS}], not {text!r}")
    return value


def cli_actor() -> str:
    """Who acts from the command line, for the audit chain: the OS account that ran it (the
    environment's LOGNAME/USER first, then the password database), `cli:unknown` if none."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no name in the environment and a uid /etc/passwd lacks
        user = "unknown"
    return f"cli:{user or 'unknown'}"


def _service(store: Store, settings: Settings) -> OperatorService:
    cost = settings.operators.password_cost
    return OperatorService(store=store, passwords=PasswordHashing(cost=cost))


def _password_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (one line) instead of asking",
    )


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the two passwords differ")
    return first


async def _add(args: argparse.Namespace, settings: Settings) -> int:
    password = _read_password(args)
    async with open_store(settings) as store:
        operator = await _service(store, settings).add(
            args.operator_id, name=args.name, role=args.role, password=password, actor=cli_actor()
        )
    print(f"operator {operator.id} added ({operator.role})")
    return 0


async def _reset(args: argparse.Namespace, settings: Settings) -> int:
    wants_password = args.password or args.password_stdin
    if not (wants_password or args.role or args.enable):
        raise ValueError("say what to reset: --password, --password-stdin, --role or --enable")
    password = _read_password(args) if wants_password else None
    async with open_store(settings) as store:
        operator = await _service(store, settings).reset(
            args.operator_id,
            password=password,
            role=args.role,
            enable=args.enable,
            actor=cli_actor(),
            reason=args.reason,
        )
    state = "active" if operator.active else "disabled"
    print(f"operator {operator.id} reset ({operator.role}, {state})")
    return 0


async def _disable(args: argparse.Namespace, settings: Settings) -> int:
    async with open_store(settings) as store:
        operator = await _service(store, settings).disable(
            args.operator_id, reason=args.reason, actor=cli_actor()
        )
    print(f"operator {operator.id} disabled")
    return 0


async def _list(args: argparse.Namespace, settings: Settings) -> int:
    async with open_store(settings) as store:
        operators = await _service(store, settings).all()
    if not operators:
        print("no operators")
    for op in operators:
        state = "disabled" if not op.active else "one-time" if op.must_change_password else "active"
        print(f"{op.id:<24} {op.role:<9} {state:<9} {op.name}")
    return 0


async def _token_create(args: argparse.Namespace, settings: Settings) -> int:
    expires = None
    if args.expires_in_days is not None:
        expires = datetime.now(UTC) + timedelta(days=args.expires_in_days)
    async with open_store(settings) as store:
        issued = await _service(store, settings).create_token(
            args.operator_id,
            name=args.name,
            role=args.role,
            expires_at=expires,
            actor=cli_actor(),
        )
    record = issued.record
    until = record.expires_at.isoformat(timespec="seconds") if record.expires_at else "never"
    print(f"token {record.id} for {record.operator_id} ({record.role}, expires {until})")
    print("shown once; keep it secret:", file=sys.stderr)
    print(issued.secret)
    return 0


async def _token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    async with open_store(settings) as store:
        revoked = await _service(store, settings).revoke_token(args.token_id, actor=cli_actor())
    print(f"token {revoked.id} of {revoked.operator_id} revoked")
    return 0


async def _token_list(args: argparse.Namespace, settings: Settings) -> int:
    async with open_store(settings) as store:
        tokens = await _service(store, settings).tokens(args.operator_id)
    if not tokens:
        print("no tokens")
    for t in tokens:
        state = "revoked" if t.revoked_at else "active"
        until = t.expires_at.isoformat(timespec="seconds") if t.expires_at else "never"
        print(f"{t.id:<16} {t.role:<9} {state:<8} expires {until:<26} {t.name}")
    return 0
