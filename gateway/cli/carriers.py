"""`openlocker carrier add | set-keys | list`: carriers and their public keys."""

from __future__ import annotations

import argparse
from pathlib import Path

from gateway.auth.jwks import load_jwks_file
from gateway.cli.common import Subparsers, open_store
from gateway.service.carriers import CarrierService
from gateway.settings import Settings


def register(sub: Subparsers) -> None:
    carrier = sub.add_parser("carrier", help="register carriers").add_subparsers(required=True)
    add = carrier.add_parser("add", help="register a carrier with its public JWKS")
    add.add_argument("name", help="carrier id: the `iss` of its tokens")
    add.add_argument("--jwks", type=Path, required=True, help="file with the public JWKS")
    add.add_argument("--display-name")
    add.set_defaults(func=_carrier_add)
    keys = carrier.add_parser("set-keys", help="replace a carrier's JWKS (key rotation)")
    keys.add_argument("name")
    keys.add_argument("--jwks", type=Path, required=True)
    keys.set_defaults(func=_carrier_set_keys)
    carrier.add_parser("list", help="list carriers").set_defaults(func=_carrier_list)


async def _carrier_add(args: argparse.Namespace, settings: Settings) -> int:
    jwks = load_jwks_file(args.jwks.read_text())
    async with open_store(settings) as store:
        record = await CarrierService(store=store).register(args.name, jwks, args.display_name)
    kids = ", ".join(k["kid"] for k in record.jwks["keys"])
    print(f"carrier {record.id!r} registered with key(s) {kids}")
    return 0


async def _carrier_set_keys(args: argparse.Namespace, settings: Settings) -> int:
    jwks = load_jwks_file(args.jwks.read_text())
    async with open_store(settings) as store:
        await CarrierService(store=store).replace_keys(args.name, jwks)
    print(f"carrier {args.name!r} now verifies with {len(jwks['keys'])} key(s)")
    return 0


async def _carrier_list(args: argparse.Namespace, settings: Settings) -> int:
    async with open_store(settings) as store:
        for c in await CarrierService(store=store).list():
            kids = ",".join(k["kid"] for k in c.jwks["keys"])
            print(f"{c.id}\t{c.name}\tkeys={kids}")
    return 0
