"""`openlocker keys rotate | list | retire KID`: the network's signing keys (custody and the root
key: gateway/cli/custody.py)."""

from __future__ import annotations

import argparse
from datetime import datetime

from gateway.cli import custody
from gateway.cli.common import Subparsers, open_store
from gateway.settings import Settings
from gateway.store import NetworkKeyRecord, Store
from gateway.tokens.network_keys import NetworkKeys


def register(sub: Subparsers) -> None:
    keys = sub.add_parser("keys", help="rotate and retire the network's signing keys")
    group = keys.add_subparsers(required=True)
    group.add_parser(
        "rotate", help="add a key: published now, signing after the publish lead"
    ).set_defaults(func=_rotate)
    group.add_parser("list", help="list every key and what it does now").set_defaults(func=_list)
    retire = group.add_parser("retire", help="stop publishing a key; it verifies nothing more")
    # A kid is a base64url thumbprint and may begin with "-": `keys retire -- KID` then.
    retire.add_argument("kid", help="the key's kid (write `-- KID` if it begins with '-')")
    retire.set_defaults(func=_retire)
    custody.register(group)


async def _network_keys(store: Store, settings: Settings) -> NetworkKeys:
    return NetworkKeys(
        store=store,
        issuer=settings.network_id,
        publish_lead=settings.tokens.key_publish_lead,
        keyring=await custody.keyring_for(store, settings),
    )


async def _rotate(args: argparse.Namespace, settings: Settings) -> int:
    async with open_store(settings) as store:
        keys = await _network_keys(store, settings)
        await keys.ensure(actor="operator")
        key = await keys.rotate(actor="operator")
    print(
        f"key {key.kid} published (key-set version {keys.version}); "
        f"signs from {_when(key.activates_at)}"
    )
    return 0


async def _retire(args: argparse.Namespace, settings: Settings) -> int:
    async with open_store(settings) as store:
        keys = await _network_keys(store, settings)
        await keys.ensure(actor="operator")
        key = await keys.retire(args.kid, actor="operator")
    print(f"key {key.kid} retired (key-set version {keys.version})")
    return 0


async def _list(args: argparse.Namespace, settings: Settings) -> int:
    async with open_store(settings) as store:
        keys = await _network_keys(store, settings)
        await keys.ensure(actor="operator")
        async with store.transaction() as tx:
            records = await tx.network_keys.all()
    signer = keys.kid
    print(f"key-set version {keys.version}, issuer {keys.issuer}")
    print("kid\tcreated\tactivates\tretired\tstatus")
    for r in records:
        retired = _when(r.retired_at) if r.retired_at else "-"
        status = _status(r, signer)
        print(f"{r.kid}\t{_when(r.created_at)}\t{_when(r.activates_at)}\t{retired}\t{status}")
    return 0


def _status(record: NetworkKeyRecord, signer: str) -> str:
    if record.retired_at is not None:
        return "retired"
    if record.kid == signer:
        return "signing"
    # Published keys verify whether or not they sign yet: lockers hold them already.
    return "verifying"


def _when(at: datetime) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")
