"""The sealing primitives: AES-256-GCM under a KEK, bound to the row, and the KEK sources."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from gateway.settings import SecretsSettings
from gateway.tokens.custody import load_keyring
from gateway.tokens.sealing import (
    AesGcmKek,
    KekProvider,
    Keyring,
    Sealed,
    SealError,
    create_kek_file,
    env_kek,
    file_kek,
    kek_id_of,
    row_aad,
)

AAD = row_aad("network_keys", "private_key_pem", "kid-1")


class VaultLikeKek:
    """A KMS-style provider, as a plugin would write one: the key stays on its side (here a
    dict stands in for the remote service), only wrap/unwrap cross the boundary."""

    def __init__(self) -> None:
        self._remote = AesGcmKek(key=os.urandom(32), origin="vault")
        self.calls = 0

    @property
    def key_id(self) -> str:
        return "vault:transit/openlocker:v1"

    async def wrap(self, plaintext: bytes, aad: bytes) -> bytes:
        self.calls += 1
        return await self._remote.wrap(plaintext, aad)

    async def unwrap(self, ciphertext: bytes, aad: bytes) -> bytes:
        self.calls += 1
        return await self._remote.unwrap(ciphertext, aad)


async def test_a_sealed_value_opens_only_on_its_own_row() -> None:
    ring = Keyring(current=AesGcmKek(key=os.urandom(32), origin="test"))
    sealed = await ring.seal(b"-----BEGIN PRIVATE KEY-----", aad=AAD)
    assert b"PRIVATE" not in sealed.value.encode()
    assert await ring.open(sealed, aad=AAD) == b"-----BEGIN PRIVATE KEY-----"
    moved = row_aad("network_keys", "private_key_pem", "kid-2")
    with pytest.raises(SealError, match="copied from another row"):
        await ring.open(sealed, aad=moved)
    other_column = row_aad("gateway_secrets", "value", "kid-1")
    with pytest.raises(SealError):
        await ring.open(sealed, aad=other_column)
    flipped = sealed.value[:-2] + ("A" if sealed.value[-2] != "A" else "B") + sealed.value[-1]
    with pytest.raises(SealError, match="altered"):
        await ring.open(Sealed(sealed.kek_id, flipped), aad=AAD)


async def test_older_keks_open_and_only_the_current_one_seals() -> None:
    old = AesGcmKek(key=os.urandom(32), origin="old")
    new = AesGcmKek(key=os.urandom(32), origin="new")
    sealed_old = await Keyring(current=old).seal(b"secret", aad=AAD)
    ring = Keyring(current=new, previous=[old])
    assert await ring.open(sealed_old, aad=AAD) == b"secret"
    assert (await ring.seal(b"secret", aad=AAD)).kek_id == new.key_id
    with pytest.raises(SealError, match=f"KEK {old.key_id}, which is not configured"):
        await Keyring(current=new).open(sealed_old, aad=AAD)


async def test_a_kms_style_provider_plugs_in_through_the_protocol() -> None:
    vault = VaultLikeKek()
    assert isinstance(vault, KekProvider)
    ring = Keyring(current=vault)
    sealed = await ring.seal(b"pin key", aad=AAD)
    assert sealed.kek_id == "vault:transit/openlocker:v1"
    assert await ring.open(sealed, aad=AAD) == b"pin key"
    assert vault.calls == 2


def test_kek_files_and_variables(tmp_path: Path) -> None:
    key = os.urandom(32)
    hex_file = tmp_path / "hex.kek"
    hex_file.write_text(key.hex() + "\n")
    assert file_kek(hex_file).key_id == kek_id_of(key)
    made = create_kek_file(tmp_path / "made" / "kek")
    assert stat.S_IMODE((tmp_path / "made" / "kek").stat().st_mode) == 0o600
    assert create_kek_file(tmp_path / "made" / "kek").key_id == made.key_id  # found, not remade
    with pytest.raises(SealError, match="never overwritten"):
        create_kek_file(tmp_path / "made" / "kek", reuse=False)
    text = (tmp_path / "made" / "kek").read_text()
    assert env_kek("KEK", {"KEK": text}).key_id == made.key_id
    with pytest.raises(SealError, match="is not set"):
        env_kek("KEK", {})
    short = tmp_path / "short.kek"
    short.write_text(base64.urlsafe_b64encode(os.urandom(16)).decode())
    with pytest.raises(SealError, match="16 bytes"):
        file_kek(short)
    with pytest.raises(SealError, match="does not exist"):
        file_kek(tmp_path / "missing.kek")
    secret_text = "Zm9v" * 20
    junk = tmp_path / "junk.kek"
    junk.write_text(secret_text)
    with pytest.raises(SealError) as refused:
        file_kek(junk)
    assert secret_text not in str(refused.value)  # a message never quotes the key


async def test_settings_choose_one_current_kek_and_name_an_unknown_plugin(tmp_path: Path) -> None:
    path = tmp_path / "kek"
    create_kek_file(path)
    both = SecretsSettings(kek_file=path, kek_env="OPENLOCKER_KEK")
    with pytest.raises(SealError, match="choose one"):
        await load_keyring(both, database_url="sqlite:///unused.db", store=None)  # type: ignore[arg-type]
    plugin = SecretsSettings(provider="no-such-kms")
    with pytest.raises(SealError, match="no KEK provider 'no-such-kms'"):
        await load_keyring(plugin, database_url="sqlite:///unused.db", store=None)  # type: ignore[arg-type]
