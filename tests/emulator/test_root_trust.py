"""The emulated locker's check of a SetKeySet signature (SPEC §9 "Signed key sets").

Signed with tests/support/grants.py's TestRoot (written from the SPEC, `cryptography` only)
and with the schema examples the gateway's code made: two signers against one verifier.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from locker_emulator.root_trust import RootKey, SignatureRefused, verify_key_set

from tests.support.grants import TestIssuer, TestRoot

LOCKER = "EMU-001"
EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "v1" / "examples" / "olp-set-key-set"
# The root that signed the schema examples (for locker WAW-CENTRAL-01), and its successor.
EXAMPLE_ROOT = {
    "kty": "OKP",
    "crv": "Ed25519",
    "x": "iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w",
    "kid": "root-2025",
    "alg": "EdDSA",
}


def key_set(version: int = 3) -> dict[str, Any]:
    return TestIssuer(issuer="net").key_set(version)


def pinned(root: TestRoot) -> RootKey:
    return RootKey.from_jwk(root.jwk)


def test_a_set_signed_by_the_pinned_root_for_this_locker_verifies() -> None:
    root = TestRoot()
    assert verify_key_set(pinned(root), root.sign(key_set(), LOCKER), LOCKER).kid == root.kid


@pytest.mark.parametrize(
    ("attack", "reason"),
    [
        ("unsigned", "not signed"),
        ("another_root", "trusts"),
        ("another_locker", "does not verify"),
        ("keys_swapped_after_signing", "does not verify"),
        ("version_changed_after_signing", "does not verify"),
        ("attached_payload", "detached"),
        ("wrong_type", "is not olp-keyset"),
        ("no_pin", "no network root key pinned"),
    ],
)
def test_every_forgery_is_refused_with_its_reason(attack: str, reason: str) -> None:
    root = TestRoot()
    pin: RootKey | None = pinned(root)
    payload = root.sign(key_set(), LOCKER)
    if attack == "unsigned":
        del payload["signature"]
    elif attack == "another_root":
        payload = TestRoot().sign(key_set(), LOCKER)
    elif attack == "another_locker":
        payload = root.sign(key_set(), "EMU-002")
    elif attack == "keys_swapped_after_signing":
        payload["keys"] = [TestIssuer().jwk]
    elif attack == "version_changed_after_signing":
        payload["version"] += 1
    elif attack == "attached_payload":
        payload["signature"] = payload["signature"].replace("..", ".e30.")
    elif attack == "wrong_type":
        signed = {"issuer": "net", "keys": payload["keys"], "lockerId": LOCKER, "version": 3}
        payload["signature"] = root.detached("olp-grant+jwt", signed)
    elif attack == "no_pin":
        pin = None
    with pytest.raises(SignatureRefused, match=reason):
        verify_key_set(pin, payload, LOCKER)


def test_a_root_rotation_is_followed_only_from_the_pinned_root() -> None:
    first, second, third = TestRoot(), TestRoot(), TestRoot()
    chain = [second.endorse(third), first.endorse(second)]  # any order
    payload = {**third.sign(key_set(), LOCKER), "rootKeys": chain}
    assert verify_key_set(pinned(first), payload, LOCKER).kid == third.kid
    # A link endorsed by a key the locker never trusted does not move the pin.
    stranger = TestRoot()
    forged = {**stranger.sign(key_set(), LOCKER), "rootKeys": [TestRoot().endorse(stranger)]}
    with pytest.raises(SignatureRefused, match="trusts"):
        verify_key_set(pinned(first), forged, LOCKER)
    # An endorsement claiming the pinned root's kid but signed by another key is refused.
    impostor = TestRoot(kid=first.kid)
    bad_link = {**stranger.sign(key_set(), LOCKER), "rootKeys": [impostor.endorse(stranger)]}
    with pytest.raises(SignatureRefused, match="rotation does not verify"):
        verify_key_set(pinned(first), bad_link, LOCKER)


def _example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    return loaded


@pytest.mark.parametrize("name", ["one-key.json", "rotation.json", "root-rotated.json"])
def test_the_schema_examples_verify_for_their_locker_only(name: str) -> None:
    root = RootKey.from_jwk(EXAMPLE_ROOT)
    payload = _example(name)
    expected = "root-2026" if name == "root-rotated.json" else "root-2025"
    assert verify_key_set(root, payload, "WAW-CENTRAL-01").kid == expected
    with pytest.raises(SignatureRefused):
        verify_key_set(root, payload, "KRK-MAIN-01")
