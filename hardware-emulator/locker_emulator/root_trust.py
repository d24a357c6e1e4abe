"""The network root key a locker pins, and the check of a SetKeySet's signature against it.

An independent implementation of SPEC.md §9 "Signed key sets" (nothing from the gateway):
the signature is a detached compact JWS (`header..signature`, EdDSA, `typ`
`olp-keyset+jws`) over the RFC 8785 canonical JSON of {issuer, keys, lockerId, version},
`lockerId` being this locker's own id. A root rotation reaches a locker as `rootKeys`: each
link a new root's public JWK with an endorsement (`typ` `olp-root+jws`) by the root before
it over {"key": <jwk>, "previous": <kid>}. The locker follows the links that start at the
root it pins, and pins the last one once the whole set has verified.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from locker_emulator.grants import KeySetRejected, public_key

KEY_SET_TYPE = "olp-keyset+jws"
ROOT_TYPE = "olp-root+jws"
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")


class SignatureRefused(ValueError):
    """A SetKeySet whose signature does not prove it comes from the network's root key."""


@dataclass(frozen=True, slots=True)
class RootKey:
    """A pinned root: its kid, its key, and its public JWK as provisioned."""

    kid: str
    key: Ed25519PublicKey
    jwk: Mapping[str, Any]

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> RootKey:
        """A root key from its public JWK; ValueError for anything but an Ed25519 public key."""
        try:
            kid, key = public_key(dict(jwk))
        except KeySetRejected as err:
            raise ValueError(f"not a root key: {err}") from None
        return cls(kid=kid, key=key, jwk=dict(jwk))


def canonical(value: object) -> bytes:
    """RFC 8785 JSON for what OLP signs: sorted members, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _b64(segment: str) -> bytes:
    if not _SEGMENT.fullmatch(segment):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _header(jws: object, typ: str) -> tuple[dict[str, Any], bytes, str]:
    """(header, signature, header segment) of a detached compact JWS of type `typ`."""
    if not isinstance(jws, str):
        raise SignatureRefused("the signature is not a text")
    parts = jws.split(".")
    if len(parts) != 3 or parts[1] != "":
        raise SignatureRefused("the signature is not a detached compact JWS (header..signature)")
    try:
        header = json.loads(_b64(parts[0]))
        signature = _b64(parts[2])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise SignatureRefused("the signature's header or value is not base64url JSON") from None
    if not isinstance(header, dict):
        raise SignatureRefused("the signature's header is not a JSON object")
    if header.get("alg") != "EdDSA":
        raise SignatureRefused(f"signature algorithm {header.get('alg')!r} is not EdDSA")
    if header.get("typ") != typ:
        raise SignatureRefused(f"signature type {header.get('typ')!r} is not {typ}")
    if not isinstance(header.get("kid"), str):
        raise SignatureRefused("the signature's header names no kid")
    return header, signature, parts[0]


def _verify(root: RootKey, jws: object, typ: str, signed: object) -> None:
    header, signature, segment = _header(jws, typ)
    if header["kid"] != root.kid:
        raise SignatureRefused(
            f"signed by root key {header['kid']!r}; this locker trusts {root.kid!r}"
        )
    try:
        payload = canonical(signed)
    except UnicodeEncodeError:
        # A lone surrogate (legal as a JSON escape) has no UTF-8 form: nothing signed it.
        raise SignatureRefused("the signed members are not valid Unicode text") from None
    signing_input = f"{segment}.{_b64url(payload)}".encode("ascii")
    try:
        root.key.verify(signature, signing_input)
    except InvalidSignature:
        why = f"the signature does not verify with root key {root.kid!r}"
        raise SignatureRefused(why) from None


def follow_rotations(pinned: RootKey, links: Sequence[object]) -> RootKey:
    """The newest root reachable from `pinned` through endorsed links (`pinned` if none).

    A link endorsed by a root this locker never trusted is ignored: it cannot move the pin.
    """
    trusted = pinned
    for _ in range(len(links)):
        step = None
        for link in links:
            if not isinstance(link, dict) or not isinstance(link.get("jwk"), dict):
                continue
            header, _, _ = _header(link.get("endorsement"), ROOT_TYPE)
            if header["kid"] != trusted.kid:
                continue
            candidate = RootKey.from_jwk(link["jwk"])
            if candidate.kid == trusted.kid:
                continue
            claim = {"key": link["jwk"], "previous": trusted.kid}
            _verify(trusted, link["endorsement"], ROOT_TYPE, claim)
            step = candidate
            break
        if step is None:
            return trusted
        trusted = step
    return trusted


def verify_key_set(pinned: RootKey | None, payload: Mapping[str, Any], locker_id: str) -> RootKey:
    """The root the set is signed by (the pinned one, or one it endorsed); SignatureRefused
    when there is no pinned root, no signature, or a signature that does not verify."""
    if pinned is None:
        raise SignatureRefused("this locker has no network root key pinned: it installs no key set")
    if "signature" not in payload:
        raise SignatureRefused("the key set is not signed")
    links = payload.get("rootKeys") or []
    try:
        root = follow_rotations(pinned, links if isinstance(links, list) else [])
    except ValueError as err:
        raise SignatureRefused(f"a root rotation does not verify: {err}") from None
    signed = {
        "issuer": payload.get("issuer"),
        "keys": payload.get("keys"),
        "lockerId": locker_id,
        "version": payload.get("version"),
    }
    _verify(root, payload["signature"], KEY_SET_TYPE, signed)
    return root
