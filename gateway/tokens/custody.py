"""Key custody: which KEKs this process holds, and every sealed row opening under them.

At start-up (`Custody.check`) every sealed secret is opened once, so a wrong or missing KEK
stops the gateway with a message naming what to configure, not the first grant it signs;
values from before sealing existed (migration 0012) are sealed then. `Custody.rewrap` seals
every row anew under the current KEK (`openlocker keys rewrap`), after which older KEKs can go.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.engine import make_url

from gateway.domain.audit import AuditAction
from gateway.settings import DEFAULT_DATA_DIR, SecretsSettings
from gateway.store import NetworkKeyRecord, Store, UnitOfWork
from gateway.store.network_keys import RootKeyRecord
from gateway.store.secrets import SecretRecord
from gateway.tokens.sealing import (
    PROVIDER_GROUP,
    KekProvider,
    Keyring,
    Sealed,
    SealError,
    create_kek_file,
    env_kek,
    file_kek,
    row_aad,
)

log = logging.getLogger(__name__)
KEK_FILE_NAME = "kek"


def _key_aad(kid: str) -> bytes:
    return row_aad("network_keys", "private_key_pem", kid)


def _root_aad(kid: str) -> bytes:
    return row_aad("network_root_keys", "private_key", kid)


def _secret_aad(name: str) -> bytes:
    return row_aad("gateway_secrets", "value", name)


async def seal_key(keyring: Keyring, key: NetworkKeyRecord) -> NetworkKeyRecord:
    """The record as it is stored: its private key sealed under the current KEK."""
    sealed = await keyring.seal(key.private_key_pem.encode(), aad=_key_aad(key.kid))
    return replace(key, private_key_pem=sealed.value, kek_id=sealed.kek_id)


async def open_key(keyring: Keyring, key: NetworkKeyRecord) -> NetworkKeyRecord:
    """The record with its private key in clear (a row from before sealing is in clear)."""
    if key.kek_id is None:
        return key
    pem = await keyring.open(Sealed(key.kek_id, key.private_key_pem), aad=_key_aad(key.kid))
    return replace(key, private_key_pem=pem.decode("ascii"), kek_id=None)


async def seal_root(keyring: Keyring, kid: str, private_pem: bytes) -> Sealed:
    return await keyring.seal(private_pem, aad=_root_aad(kid))


async def open_root(keyring: Keyring, root: RootKeyRecord) -> bytes:
    return await keyring.open(Sealed(root.kek_id, root.private_key), aad=_root_aad(root.kid))


async def sealed_secret(
    tx: UnitOfWork, keyring: Keyring, name: str, make: Callable[[], bytes]
) -> bytes:
    """The network-wide secret `name`, made and sealed on first use; the first instance to
    store it wins a race, and every instance then opens the stored value."""
    record = await tx.secrets.get(name)
    if record is None:
        sealed = await keyring.seal(make(), aad=_secret_aad(name))
        await tx.secrets.add(name, sealed.value, sealed.kek_id)
        record = await tx.secrets.get(name)
        assert record is not None  # just written, or written by the winner of a race
    return await _open_secret(keyring, record)


async def _open_secret(keyring: Keyring, record: SecretRecord) -> bytes:
    if record.kek_id is None:
        return _legacy_secret(record.value)
    return await keyring.open(Sealed(record.kek_id, record.value), aad=_secret_aad(record.name))


def _legacy_secret(value: str) -> bytes:
    # Before 0012 the one secret (the PIN-hash key) was stored as hex text of its bytes.
    try:
        return bytes.fromhex(value)
    except ValueError:
        return value.encode()


def default_kek_path(database_url: str) -> Path:
    """Where the KEK is made when none is configured: beside a SQLite file, else in `var/`."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).parent / KEK_FILE_NAME
    return DEFAULT_DATA_DIR / KEK_FILE_NAME


async def load_keyring(settings: SecretsSettings, *, database_url: str, store: Store) -> Keyring:
    """The KEKs of `[secrets]`; with none configured, the data directory's KEK file, made
    (0600) on a fresh database. Never made when rows are sealed already: a new key could not
    open them, so that is a SealError naming what to configure."""
    current = _configured(settings)
    previous: list[KekProvider] = [file_kek(p) for p in settings.previous_kek_files]
    previous += [env_kek(name) for name in settings.previous_kek_envs]
    if current is None:
        path = default_kek_path(database_url)
        if path.exists():
            current = file_kek(path)
        else:
            sealed = await _sealed_kek_ids(store)
            if sealed:
                raise SealError(
                    f"the database holds secrets sealed with KEK {', '.join(sorted(sealed))}, "
                    f"but no KEK is configured and {path} does not exist: set [secrets] "
                    "kek_file (or kek_env) to the key they were sealed with"
                )
            current = create_kek_file(path)
            log.warning(
                "no KEK configured: made %s (mode 0600) to seal this network's private keys; "
                "back it up apart from the database, or set [secrets] kek_file",
                path,
            )
    return Keyring(current=current, previous=previous)


def _configured(settings: SecretsSettings) -> KekProvider | None:
    chosen = [
        name
        for name, value in (
            ("kek_file", settings.kek_file),
            ("kek_env", settings.kek_env),
            ("provider", settings.provider),
        )
        if value
    ]
    if len(chosen) > 1:
        raise SealError(f"[secrets] sets {' and '.join(chosen)}: choose one current KEK")
    if settings.kek_file is not None:
        return file_kek(settings.kek_file)
    if settings.kek_env:
        return env_kek(settings.kek_env)
    if settings.provider:
        return _plugin(settings.provider, settings.provider_config)
    return None


def _plugin(name: str, config: dict[str, Any]) -> KekProvider:
    """A KEK provider registered under `openlocker.kek_providers`: a callable taking the
    `[secrets] provider_config` table and returning a KekProvider."""
    found = [ep for ep in entry_points(group=PROVIDER_GROUP) if ep.name == name]
    if not found:
        raise SealError(f"no KEK provider {name!r} is installed (entry points {PROVIDER_GROUP})")
    provider = found[0].load()(dict(config))
    if not isinstance(provider, KekProvider):
        raise SealError(f"KEK provider {name!r} does not implement KekProvider")
    return provider


async def _sealed_kek_ids(store: Store) -> set[str]:
    async with store.transaction() as tx:
        ids = {k.kek_id for k in await tx.network_keys.all() if k.kek_id}
        ids |= {s.kek_id for s in await tx.secrets.all() if s.kek_id}
        ids |= {r.kek_id for r in await tx.network_keys.roots()}
    return ids


@dataclass(frozen=True, slots=True)
class CustodyReport:
    """What a check or a rewrap found and did."""

    opened: int  # sealed values that opened
    sealed: int  # values sealed (anew) by this call
    kek_ids: tuple[str, ...]  # the KEKs the sealed values were found under


@dataclass(frozen=True, slots=True)
class RowsWalked:
    """What one `SealedRows` walk found and did."""

    opened: int
    sealed: int
    kek_ids: frozenset[str]


class SealedRows(Protocol):
    """Sealed values a layer above this one keeps (connector attachments' secrets): custody
    walks them in its transaction, opening each, sealing literals (and, to `rewrap`, every
    value not under the current KEK anew). Raises SealError when one does not open."""

    async def walk(self, tx: UnitOfWork, keyring: Keyring, *, rewrap: bool) -> RowsWalked: ...


class Custody:
    """Start-up check, first sealing and rewrapping of every secret row."""

    def __init__(self, *, store: Store, keyring: Keyring, rows: Sequence[SealedRows] = ()) -> None:
        self._store = store
        self._keyring = keyring
        self._rows = tuple(rows)

    @property
    def keyring(self) -> Keyring:
        return self._keyring

    async def check(self, *, actor: str) -> CustodyReport:
        """Open every sealed value (SealError if one does not) and seal values still in clear."""
        return await self._walk(actor=actor, rewrap=False)

    async def rewrap(self, *, actor: str) -> CustodyReport:
        """Seal every value anew under the current KEK; audited. Older KEKs can go after."""
        return await self._walk(actor=actor, rewrap=True)

    async def _walk(self, *, actor: str, rewrap: bool) -> CustodyReport:
        ring = self._keyring
        opened = sealed = 0
        found: set[str] = set()
        async with self._store.transaction() as tx:
            await tx.network_keys.lock()  # no rotation writes a key while we reseal
            for key in await tx.network_keys.all():
                clear = await open_key(ring, key)
                opened += key.kek_id is not None
                found |= {key.kek_id} if key.kek_id else set()
                if key.kek_id is None or (rewrap and key.kek_id != ring.current_id):
                    again = await seal_key(ring, clear)
                    assert again.kek_id is not None
                    await tx.network_keys.reseal(key.kid, again.private_key_pem, again.kek_id)
                    sealed += 1
            for root in await tx.network_keys.roots():
                pem = await open_root(ring, root)
                opened += 1
                found.add(root.kek_id)
                if rewrap and root.kek_id != ring.current_id:
                    box = await seal_root(ring, root.kid, pem)
                    await tx.network_keys.reseal_root(root.kid, box.value, box.kek_id)
                    sealed += 1
            for secret in await tx.secrets.all():
                value = await _open_secret(ring, secret)
                opened += secret.kek_id is not None
                found |= {secret.kek_id} if secret.kek_id else set()
                if secret.kek_id is None or (rewrap and secret.kek_id != ring.current_id):
                    box = await ring.seal(value, aad=_secret_aad(secret.name))
                    await tx.secrets.reseal(secret.name, box.value, box.kek_id)
                    sealed += 1
            for rows in self._rows:
                walked = await rows.walk(tx, ring, rewrap=rewrap)
                opened, sealed = opened + walked.opened, sealed + walked.sealed
                found |= walked.kek_ids
            report = CustodyReport(opened, sealed, tuple(sorted(found)))
            if sealed:
                action = AuditAction.SECRETS_REWRAPPED if rewrap else AuditAction.SECRETS_SEALED
                details = {"sealed": sealed, "from": list(report.kek_ids), "to": ring.current_id}
                await tx.audit.append(action, actor=actor, subject="kek", details=details)
        if sealed and not rewrap:
            log.warning("sealed %d secret(s) stored in clear under KEK %s", sealed, ring.current_id)
        return report
