"""Secrets at rest (issue 12): the database holds no key in clear, only what a KEK sealed.

On SQLite and PostgreSQL: the raw database (the SQLite file and its WAL; every row of every
table on PostgreSQL) is searched for the private keys and the PIN-hash key in every encoding
they could take. A wrong KEK stops the gateway at start-up with a message naming what to
configure; rotation (`openlocker keys rewrap`) moves every row to the new KEK; a ciphertext
copied onto another row does not open; rows from before sealing are sealed, never lost.
"""

from __future__ import annotations

import asyncio
import base64
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert, update
from sqlalchemy.engine import make_url

from gateway import cli
from gateway.app import Gateway
from gateway.domain.audit import AuditAction
from gateway.service.codes import PIN_KEY_NAME, CodeService
from gateway.settings import SecretsSettings, Settings
from gateway.store import Store
from gateway.store.tables import gateway_secrets, network_keys
from gateway.tokens.custody import Custody, default_kek_path, open_root, sealed_secret
from gateway.tokens.network_keys import NetworkKeys, new_key
from gateway.tokens.root_key import RootKey
from gateway.tokens.sealing import Keyring, SealError, create_kek_file, file_kek
from tests.http.conftest import settings_for


@dataclass
class Material:
    """The secrets a network made, in clear, as the test learnt them from the services."""

    pems: list[str]
    pin_key: bytes

    def needles(self) -> Iterator[bytes]:
        """Every encoding a leaked secret could take in a dump."""
        for pem in self.pems:
            yield pem.encode()
            body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
            yield body.encode()
            private = serialization.load_pem_private_key(pem.encode(), None)
            assert isinstance(private, Ed25519PrivateKey)
            raw = private.private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
            yield from _encodings(raw)
        yield from _encodings(self.pin_key)


def _encodings(raw: bytes) -> Iterator[bytes]:
    yield raw
    yield raw.hex().encode()
    yield base64.b64encode(raw).rstrip(b"=")
    yield base64.urlsafe_b64encode(raw).rstrip(b"=")


async def raw_dump(url: str) -> bytes:
    """The database as bytes: the SQLite file and WAL, or every PostgreSQL row as text."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(str(parsed.database))
        return await asyncio.to_thread(_read_sqlite, path)
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
        chunks = []
        for row in tables:
            table = row["tablename"]  # from pg_tables, not from input
            rows = await conn.fetch(f'SELECT t::text AS r FROM "{table}" t')  # noqa: S608
            chunks += [r["r"].encode() for r in rows]
        return b"\n".join(chunks)
    finally:
        await conn.close()


def _read_sqlite(path: Path) -> bytes:
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def kek(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    create_kek_file(path)
    return path


async def make_network(store: Store, keyring: Keyring) -> Material:
    """Signing keys (one rotated in), a root key and the PIN-hash key, as the gateway makes them."""
    keys = NetworkKeys(store=store, keyring=keyring)
    await keys.ensure()
    await keys.rotate()
    root = RootKey(store=store, keyring=keyring)
    await root.ensure()
    codes = CodeService(store=store, keyring=keyring)
    async with store.transaction() as tx:
        assert await codes.redeem(tx, "ANY-LOCKER", "12345678") is None  # makes the PIN key
        pin_key = await sealed_secret(tx, keyring, PIN_KEY_NAME, lambda: b"never used")
        roots = await tx.network_keys.roots()
    pems = [r.private_key_pem for r in keys.records()]
    pems += [(await open_root(keyring, r)).decode() for r in roots]
    return Material(pems=pems, pin_key=pin_key)


async def test_the_database_holds_no_private_key_and_no_pin_key_in_clear(
    database_url: str, tmp_path: Path
) -> None:
    keyring = Keyring(current=file_kek(kek(tmp_path, "kek")))
    async with Store.connect(database_url) as store:
        await store.migrate()
        material = await make_network(store, keyring)
        assert len(material.pems) == 3
        async with store.transaction() as tx:
            stored = await tx.network_keys.all()
        assert {k.kek_id for k in stored} == {keyring.current_id}
    dump = await raw_dump(database_url)
    assert b"openlocker-local" in dump or b"key.created" in dump  # it is the database we filled
    leaked = [n[:24] for n in material.needles() if n in dump]
    assert leaked == []


async def test_a_wrong_kek_stops_the_gateway_at_start_up(database_url: str, tmp_path: Path) -> None:
    first, other = kek(tmp_path, "first.kek"), kek(tmp_path, "other.kek")
    async with Gateway(settings=_settings(database_url, kek_file=first)):
        pass
    with pytest.raises(SealError) as refused:
        async with Gateway(settings=_settings(database_url, kek_file=other)):
            pytest.fail("the gateway started with a KEK that opens nothing")
    message = str(refused.value)
    assert file_kek(first).key_id in message  # the KEK the rows need
    assert "previous_kek_files" in message  # and how to give it
    # Given as a previous KEK, it opens them again (and `other` seals what comes new).
    async with Gateway(settings=_settings(database_url, kek_file=other, previous=[first])):
        pass


async def test_with_no_kek_configured_one_is_made_beside_the_database_once(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'site' / 'openlocker.db'}"
    path = default_kek_path(url)
    assert path == tmp_path / "site" / "kek"
    async with Gateway(settings=settings_for(url)):
        pass
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    made = path.read_bytes()
    async with Gateway(settings=settings_for(url)):
        pass
    assert path.read_bytes() == made  # the second start found it
    path.unlink()  # lost: the rows it sealed must not be met with a fresh key
    with pytest.raises(SealError, match="no KEK is configured") as refused:
        async with Gateway(settings=settings_for(url)):
            pytest.fail("started without the key its secrets were sealed with")
    assert str(path) in str(refused.value)
    assert not path.exists()


def test_rewrap_moves_every_secret_to_the_new_kek(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = kek(tmp_path, "old.kek"), kek(tmp_path, "new.kek")
    old_ring = Keyring(current=file_kek(old))
    material = asyncio.run(_made(database_url, old_ring))
    monkeypatch.setenv("OPENLOCKER_SECRETS__KEK_FILE", str(new))
    monkeypatch.setenv("OPENLOCKER_SECRETS__PREVIOUS_KEK_FILES", f'["{old}"]')
    assert cli.main(["--database-url", database_url, "keys", "rewrap"]) == 0
    new_ring = Keyring(current=file_kek(new))

    async def after() -> None:
        async with Store.connect(database_url) as store:
            # Only the new KEK now: everything opens, to the same secrets.
            assert await _material(store, new_ring) == material
            async with store.transaction() as tx:
                assert {k.kek_id for k in await tx.network_keys.all()} == {new_ring.current_id}
                assert {s.kek_id for s in await tx.secrets.all()} == {new_ring.current_id}
                audit = await tx.audit.page()
            rewrapped = [a for a in audit if a.action == AuditAction.SECRETS_REWRAPPED]
            assert len(rewrapped) == 1
            assert rewrapped[0].details["to"] == new_ring.current_id
            assert rewrapped[0].details["sealed"] == 4  # two signing keys, the root, the PIN key
            with pytest.raises(SealError, match="not configured"):
                await Custody(store=store, keyring=old_ring).check(actor="operator")

    asyncio.run(after())


async def test_a_ciphertext_copied_onto_another_row_does_not_open(
    database_url: str, tmp_path: Path
) -> None:
    keyring = Keyring(current=file_kek(kek(tmp_path, "kek")))
    async with Store.connect(database_url) as store:
        await store.migrate()
        await make_network(store, keyring)
        async with store.transaction() as tx:
            first, second = (await tx.network_keys.all())[:2]
        async with store.engine.begin() as conn:
            await conn.execute(
                update(network_keys)
                .where(network_keys.c.kid == second.kid)
                .values(private_key_pem=first.private_key_pem)
            )
        with pytest.raises(SealError, match="copied from another row"):
            await Custody(store=store, keyring=keyring).check(actor="operator")
        with pytest.raises(SealError):
            await NetworkKeys(store=store, keyring=keyring).ensure()


async def test_secrets_from_before_sealing_are_sealed_at_start_never_lost(
    database_url: str, tmp_path: Path
) -> None:
    """Rows written in clear (as before migration 0012) keep working and leave the dump."""
    pem_key = new_key(_now())
    pin_hex = os.urandom(32).hex()
    async with Store.connect(database_url) as store:
        await store.migrate()
        async with store.transaction() as tx:
            await tx.network_keys.add(pem_key)  # kek_id None: in clear
            await tx.network_keys.bump_version()
        async with store.engine.begin() as conn:
            await conn.execute(
                insert(gateway_secrets).values(name=PIN_KEY_NAME, value=pin_hex, created_at=_now())
            )
    assert pem_key.private_key_pem.encode() in await raw_dump(database_url)  # the hole, shown
    settings = _settings(database_url, kek_file=kek(tmp_path, "kek"))
    async with Gateway(settings=settings) as gateway:
        assert [r.private_key_pem for r in gateway.network_keys.records()] == [
            pem_key.private_key_pem
        ]
        async with gateway.store.transaction() as tx:
            pin = await sealed_secret(
                tx, gateway.custody.keyring, PIN_KEY_NAME, lambda: b"never used"
            )
            assert pin == bytes.fromhex(pin_hex)  # codes issued before still verify
            stored = await tx.network_keys.all()
            sealed = [a for a in await tx.audit.page() if a.action == AuditAction.SECRETS_SEALED]
        assert {k.kek_id for k in stored} == {gateway.custody.keyring.current_id}
        assert len(sealed) == 1
        assert sealed[0].details["sealed"] == 2
    dump = await raw_dump(database_url)
    assert pem_key.private_key_pem.encode() not in dump
    assert pin_hex.encode() not in dump


def _settings(url: str, *, kek_file: Path, previous: list[Path] | None = None) -> Settings:
    secrets = SecretsSettings(kek_file=kek_file, previous_kek_files=tuple(previous or ()))
    return settings_for(url, secrets=secrets)


def _now() -> datetime:
    return datetime.now(UTC)


async def _made(url: str, keyring: Keyring) -> Material:
    async with Store.connect(url) as store:
        await store.migrate()
        return await make_network(store, keyring)


async def _material(store: Store, keyring: Keyring) -> Material:
    await Custody(store=store, keyring=keyring).check(actor="operator")
    keys = NetworkKeys(store=store, keyring=keyring)
    await keys.ensure()
    async with store.transaction() as tx:
        pin_key = await sealed_secret(tx, keyring, PIN_KEY_NAME, lambda: b"never used")
        roots = await tx.network_keys.roots()
    pems = [r.private_key_pem for r in keys.records()]
    pems += [(await open_root(keyring, r)).decode() for r in roots]
    return Material(pems=pems, pin_key=pin_key)
