"""`openlocker keys rewrap | new-kek FILE | root [--rotate]`: key custody and the root key."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gateway.cli.common import open_store
from gateway.delivery.attachment_secrets import AttachmentSecrets
from gateway.settings import Settings
from gateway.store import Store
from gateway.tokens.custody import Custody, load_keyring
from gateway.tokens.root_key import RootKey
from gateway.tokens.sealing import Keyring, create_kek_file

# Sealed values kept above the tokens layer: connector attachments' literal secrets.
_ROWS = (AttachmentSecrets(),)


def register(group: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the custody commands to the `keys` group."""
    group.add_parser(
        "rewrap",
        help="seal every secret anew under the current KEK (after changing [secrets] kek_file)",
    ).set_defaults(func=_rewrap)
    new_kek = group.add_parser("new-kek", help="write a new random KEK to FILE (mode 0600)")
    new_kek.add_argument("file", type=Path)
    new_kek.set_defaults(func=_new_kek)
    root = group.add_parser(
        "root", help="print the network root key's public JWK: what every locker must pin"
    )
    root.add_argument(
        "--rotate",
        action="store_true",
        help="make a new root key endorsed by the current one (lockers follow on next push)",
    )
    root.set_defaults(func=_root)


async def keyring_for(store: Store, settings: Settings) -> Keyring:
    """The configured KEKs, with every sealed row checked (and rows in clear sealed)."""
    keyring = await load_keyring(
        settings.secrets, database_url=settings.store.database_url, store=store
    )
    await Custody(store=store, keyring=keyring, rows=_ROWS).check(actor="operator")
    return keyring


async def _rewrap(args: argparse.Namespace, settings: Settings) -> int:
    async with open_store(settings) as store:
        keyring = await load_keyring(
            settings.secrets, database_url=settings.store.database_url, store=store
        )
        report = await Custody(store=store, keyring=keyring, rows=_ROWS).rewrap(actor="operator")
    older = [k for k in report.kek_ids if k != keyring.current_id]
    print(
        f"{report.sealed} secret(s) sealed anew: every secret is under KEK {keyring.current_id}"
        + (f"; no longer needed: {', '.join(older)}" if older else "")
    )
    return 0


async def _new_kek(args: argparse.Namespace, settings: Settings) -> int:
    path: Path = args.file
    kek = create_kek_file(path, reuse=False)
    print(f"KEK {kek.key_id} written to {path}")
    return 0


async def _root(args: argparse.Namespace, settings: Settings) -> int:
    async with open_store(settings) as store:
        root = RootKey(store=store, keyring=await keyring_for(store, settings))
        await root.ensure(actor="operator")
        if args.rotate:
            old = root.kid
            await root.rotate(actor="operator")
            # stderr: stdout stays the one JSON line a locker is provisioned with.
            print(f"root key {root.kid} replaces {old} (endorsed by it)", file=sys.stderr)
    print(json.dumps(root.public_jwk, sort_keys=True))
    return 0
