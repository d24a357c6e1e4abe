"""Encryption at rest: secrets in the database are sealed with a key-encryption key from outside it.

A *KEK provider* seals (`wrap`) and opens (`unwrap`) small secrets: the network's private
keys, the root key, the PIN-hash key. The built-in providers hold a 256-bit key read from a
file or an environment variable and use AES-256-GCM; a KMS-style provider (the key never
leaves the KMS) implements the same `KekProvider` Protocol and is registered under the entry
point group `openlocker.kek_providers` (docs/KEY_CUSTODY.md shows one).

Each sealed value is stored with the id of the KEK that sealed it (a column beside it), and
its row's identity (`table/column/key`) is the AEAD's associated data: a ciphertext copied
onto another row, or another column, does not open.

Stored form of a sealed value: BASE64URL(nonce(12) || AES-GCM ciphertext || tag(16)), unpadded.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger(__name__)
KEK_BYTES = 32
NONCE_BYTES = 12
PROVIDER_GROUP = "openlocker.kek_providers"
_AAD_PREFIX = b"openlocker/sealed/v1"


class SealError(ValueError):
    """A sealed value cannot be opened (unknown KEK, wrong KEK, moved or altered ciphertext),
    or no KEK is available. The message says what to configure; it never holds a secret."""


@runtime_checkable
class KekProvider(Protocol):
    """A key-encryption key: seals and opens small secrets bound to `aad`.

    `key_id` is stored beside every value it sealed and must never change for one key (the
    built-in providers derive it from the key). `unwrap` raises SealError when the value does
    not open under this key and `aad`.
    """

    @property
    def key_id(self) -> str: ...

    async def wrap(self, plaintext: bytes, aad: bytes) -> bytes: ...

    async def unwrap(self, ciphertext: bytes, aad: bytes) -> bytes: ...


def kek_id_of(key: bytes) -> str:
    """A KEK's id: a short fingerprint of the key, so ids never need configuring."""
    digest = hashlib.sha256(b"openlocker-kek-id\x00" + key).digest()
    return "kek-" + _b64url(digest)[:16]


class AesGcmKek:
    """A 256-bit KEK held in memory (read from a file or the environment): AES-256-GCM."""

    def __init__(self, *, key: bytes, origin: str) -> None:
        if len(key) != KEK_BYTES:
            raise SealError(f"the KEK from {origin} is {len(key)} bytes; it must be {KEK_BYTES}")
        self._aead = AESGCM(key)
        self._id = kek_id_of(key)
        self.origin = origin  # where it came from, for messages: a path or a variable name

    @property
    def key_id(self) -> str:
        return self._id

    async def wrap(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)  # random 96-bit nonces: safe far beyond our row counts
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    async def unwrap(self, ciphertext: bytes, aad: bytes) -> bytes:
        try:
            return self._aead.decrypt(ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:], aad)
        except (InvalidTag, ValueError):
            raise SealError(
                f"a value sealed under KEK {self._id} does not open: it was altered, or "
                "copied from another row"
            ) from None

    def __repr__(self) -> str:
        return f"AesGcmKek(key_id={self._id!r}, origin={self.origin!r})"


def parse_kek(text: str, origin: str) -> bytes:
    """A KEK as written in a file or variable: 32 bytes as base64url/base64 or 64 hex digits."""
    value = text.strip()
    try:
        if len(value) == 2 * KEK_BYTES:
            return bytes.fromhex(value)
        return base64.urlsafe_b64decode(value.replace("+", "-").replace("/", "_") + "==")
    except (ValueError, binascii.Error):
        raise SealError(
            f"the KEK in {origin} is neither base64url nor hex of {KEK_BYTES} bytes"
        ) from None


def file_kek(path: Path) -> AesGcmKek:
    """The KEK in `path`; SealError (naming the path) when it is missing or malformed."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise SealError(f"KEK file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise SealError(f"KEK file {path} cannot be read: {err.__class__.__name__}") from None
    return AesGcmKek(key=parse_kek(text, str(path)), origin=str(path))


def env_kek(name: str, environ: Mapping[str, str] | None = None) -> AesGcmKek:
    """The KEK in environment variable `name`; SealError when it is unset or malformed."""
    value = (os.environ if environ is None else environ).get(name)
    if not value:
        raise SealError(f"environment variable {name} (the KEK) is not set")
    return AesGcmKek(key=parse_kek(value, f"${name}"), origin=f"${name}")


def create_kek_file(path: Path, *, reuse: bool = True) -> AesGcmKek:
    """A new random KEK written to `path` with mode 0600; the existing one if it is there
    (SealError instead when `reuse` is False: a KEK file is never overwritten).

    O_EXCL: two processes starting at once on a fresh data directory end up with one key.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if not reuse:
            raise SealError(f"{path} exists already; a KEK file is never overwritten") from None
        return file_kek(path)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(_b64url(secrets.token_bytes(KEK_BYTES)) + "\n")
    return file_kek(path)


@dataclass(frozen=True, slots=True)
class Sealed:
    """A sealed value as stored: the KEK's id and the ciphertext (base64url text)."""

    kek_id: str
    value: str


def row_aad(table: str, column: str, key: str) -> bytes:
    """The associated data binding a sealed value to its row and column."""
    return b"\x00".join((_AAD_PREFIX, table.encode(), column.encode(), key.encode()))


class Keyring:
    """The current KEK (seals) and older ones (only open, until `openlocker keys rewrap`)."""

    def __init__(self, *, current: KekProvider, previous: Sequence[KekProvider] = ()) -> None:
        self._current = current
        self._by_id: dict[str, KekProvider] = {}
        for provider in (current, *previous):
            self._by_id.setdefault(provider.key_id, provider)

    @property
    def current_id(self) -> str:
        return self._current.key_id

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._by_id)

    def knows(self, kek_id: str) -> bool:
        return kek_id in self._by_id

    async def seal(self, plaintext: bytes, *, aad: bytes) -> Sealed:
        ciphertext = await self._current.wrap(plaintext, aad)
        return Sealed(self._current.key_id, _b64url(ciphertext))

    async def open(self, sealed: Sealed, *, aad: bytes) -> bytes:
        provider = self._by_id.get(sealed.kek_id)
        if provider is None:
            raise SealError(
                f"a secret is sealed with KEK {sealed.kek_id}, which is not configured "
                f"(configured: {', '.join(self._by_id)}); set [secrets] kek_file or "
                "previous_kek_files to the key it was written with"
            )
        try:
            ciphertext = base64.urlsafe_b64decode(sealed.value + "=" * (-len(sealed.value) % 4))
        except (ValueError, binascii.Error):
            raise SealError(f"a value sealed under KEK {sealed.kek_id} is not base64url") from None
        return await provider.unwrap(ciphertext, aad)


_EPHEMERAL: Keyring | None = None


def ephemeral_keyring() -> Keyring:
    """A keyring whose KEK lives only in this process: what services use when built without
    one (tests). Values it seals never open in another process, so nothing is stored in clear."""
    global _EPHEMERAL
    if _EPHEMERAL is None:
        key = secrets.token_bytes(KEK_BYTES)
        _EPHEMERAL = Keyring(current=AesGcmKek(key=key, origin="this process (ephemeral)"))
    return _EPHEMERAL


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
