"""`openlocker mqtt passwd | acl`: Mosquitto users for lockers and gateways, and their ACL."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from gateway.cli.common import Subparsers, open_store
from gateway.mqtt.credentials import (
    PasswordFile,
    check_username,
    issue_passwords,
    merge_secrets,
    render_acl,
    write_atomic,
)
from gateway.service.lockers import LockerService
from gateway.settings import Settings


def register(sub: Subparsers) -> None:
    mqtt = sub.add_parser(
        "mqtt", help="Mosquitto password and ACL files for lockers and gateways"
    ).add_subparsers(required=True)
    passwd = mqtt.add_parser(
        "passwd",
        help="give lockers (user = locker id) and gateways a random password",
        description="Adds or replaces `user:$7$...` lines in a Mosquitto password file, keeping "
        "every other line. Users that already have a line keep it unless --rotate. New "
        "passwords are shown once (or written to --secrets-out) and stored nowhere else.",
    )
    passwd.add_argument("locker_ids", nargs="*", metavar="LOCKER_ID")
    passwd.add_argument("--file", type=Path, required=True, help="the Mosquitto password file")
    passwd.add_argument("--all", action="store_true", help="every OLP locker in the database")
    passwd.add_argument(
        "--gateway-user", action="append", default=[], help="a gateway's MQTT user (repeatable)"
    )
    passwd.add_argument("--rotate", action="store_true", help="replace existing passwords too")
    passwd.add_argument(
        "--secrets-out",
        type=Path,
        help="write USER:PASSWORD lines to this file (mode 0600) instead of printing them",
    )
    passwd.set_defaults(func=_passwd)
    acl = mqtt.add_parser(
        "acl",
        help="write the ACL: each locker in its own subtree, gateways what they need",
        description="One set of `pattern` rules (%%u = the user name) confines every locker to "
        "olp/v1/{lockerId}/...; gateway users get the rules a gateway instance needs.",
    )
    acl.add_argument("--file", type=Path, required=True, help="the Mosquitto ACL file")
    acl.add_argument(
        "--gateway-user",
        action="append",
        default=[],
        help="a gateway's MQTT user (repeatable; default: the mqtt_username setting)",
    )
    acl.set_defaults(func=_acl)


async def _passwd(args: argparse.Namespace, settings: Settings) -> int:
    users = [check_username(name) for name in (*args.gateway_user, *args.locker_ids)]
    if args.all:
        async with open_store(settings) as store:
            lockers = await LockerService(store=store).all()
        users += [locker.id for locker in lockers if locker.adapter == "olp"]
    if not users:
        raise ValueError("name at least one LOCKER_ID, --gateway-user or --all")
    path: Path = args.file
    with _file_errors():
        passwords = PasswordFile.read(path)
        issued = issue_passwords(passwords, users, rotate=args.rotate)
        # The secrets go out first: if that fails, the broker's file still has the old hashes
        # and nobody is locked out by a password that was never seen.
        if issued and args.secrets_out is not None:
            merge_secrets(args.secrets_out, issued)
        if issued:
            write_atomic(path, passwords.render())
    kept = [user for user in dict.fromkeys(users) if user not in issued]
    if args.secrets_out is None:
        for user, password in issued.items():
            print(f"{user}:{password}")
    else:
        print(f"{len(issued)} new password(s) written to {args.secrets_out}")
    if kept:
        print(f"unchanged (use --rotate to replace): {', '.join(kept)}", file=sys.stderr)
    if issued:
        print(f"updated {path}; reload Mosquitto (SIGHUP) to apply", file=sys.stderr)
    return 0


async def _acl(args: argparse.Namespace, settings: Settings) -> int:
    own = settings.mqtt.username
    users = list(args.gateway_user) or ([own] if own else [])
    if not users:
        raise ValueError("name the gateway's MQTT user with --gateway-user")
    path: Path = args.file
    with _file_errors():
        # No secrets in it: readable by the broker whichever user it runs as.
        write_atomic(path, render_acl(users), mode=0o644)
    print(f"wrote {path} for gateway user(s) {', '.join(users)}; reload Mosquitto (SIGHUP)")
    return 0


@contextlib.contextmanager
def _file_errors() -> Iterator[None]:
    """An unreadable or unwritable file is a clear one-line error, not a traceback."""
    try:
        yield
    except OSError as err:
        raise ValueError(f"{err.filename}: {err.strerror}") from err
