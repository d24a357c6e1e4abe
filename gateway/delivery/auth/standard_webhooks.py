"""Standard Webhooks 1.0 signatures: `v1` (HMAC-SHA256, by the `standardwebhooks` library) and
`v1a` (Ed25519, by `cryptography`), both over `{webhook-id}.{webhook-timestamp}.{body}`.

Several keys sign at once during a rotation: the `webhook-signature` header carries one
signature per key, space-separated, and a receiver accepts the request if any one verifies.
"""

from __future__ import annotations

import base64
import binascii
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import SecretStr
from standardwebhooks import Webhook

from gateway.delivery.auth.base import AuthContext
from gateway.delivery.auth.config import StandardWebhooksV1aConfig, StandardWebhooksV1Config
from gateway.delivery.auth.errors import AuthConfigError
from gateway.delivery.auth.headers import with_headers
from gateway.delivery.auth.secrets import resolve_secret
from gateway.sdk.connectors import HttpRequest

__all__ = [
    "PUBLIC_KEY_PREFIX",
    "SECRET_KEY_PREFIX",
    "SYMMETRIC_SECRET_PREFIX",
    "StandardWebhooksV1Auth",
    "StandardWebhooksV1aAuth",
    "signed_content",
]

# Key prefixes of the spec, not keys (S105).
SYMMETRIC_SECRET_PREFIX = "whsec_"  # noqa: S105
SECRET_KEY_PREFIX = "whsk_"  # noqa: S105
PUBLIC_KEY_PREFIX = "whpk_"
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
# The spec's range for a symmetric secret: at least 192 bits, at most 512.
_MIN_SECRET_BYTES = 24
_MAX_SECRET_BYTES = 64
_ED25519_SEED_BYTES = 32


def signed_content(msg_id: str, timestamp: int, body: bytes) -> bytes:
    """What both schemes sign: `{msg_id}.{timestamp}.{body}`, the body byte for byte."""
    return f"{msg_id}.{timestamp}.".encode() + body


def _decode_base64(text: str, *, field: str, what: str) -> bytes:
    # Keys are often pasted without padding; the reference libraries accept that too.
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (ValueError, binascii.Error):
        raise AuthConfigError(
            field, f"is not {what}: the part after the prefix is not base64"
        ) from None


def _headers(context: AuthContext, signatures: Sequence[str]) -> dict[str, str]:
    return {
        ID_HEADER: context.event_id,
        TIMESTAMP_HEADER: str(context.unix_time),
        SIGNATURE_HEADER: " ".join(signatures),
    }


def _secret_fields(
    first: SecretStr, more: Sequence[SecretStr], *, field: str, first_name: str, more_name: str
) -> list[tuple[str, str]]:
    named = [(f"{field}.{first_name}", first)]
    named += [(f"{field}.{more_name}.{index}", value) for index, value in enumerate(more)]
    return [(name, resolve_secret(value, field=name).get_secret_value()) for name, value in named]


class StandardWebhooksV1Auth:
    """`v1,<base64 HMAC-SHA256>` per secret; the HMAC is the `standardwebhooks` library's."""

    def __init__(self, *, secrets: Sequence[SecretStr]) -> None:
        if not secrets:
            raise ValueError("at least one secret signs")
        self._signers = tuple(Webhook(secret.get_secret_value()) for secret in secrets)

    @classmethod
    def from_config(cls, config: StandardWebhooksV1Config, *, field: str) -> StandardWebhooksV1Auth:
        resolved = _secret_fields(
            config.secret,
            config.previous_secrets,
            field=field,
            first_name="secret",
            more_name="previous_secrets",
        )
        for name, text in resolved:
            if text.startswith((SECRET_KEY_PREFIX, PUBLIC_KEY_PREFIX)):
                raise AuthConfigError(name, "is an Ed25519 key: use type standard-webhooks-v1a")
            raw = _decode_base64(
                text.removeprefix(SYMMETRIC_SECRET_PREFIX), field=name, what="a whsec_ secret"
            )
            if not _MIN_SECRET_BYTES <= len(raw) <= _MAX_SECRET_BYTES:
                raise AuthConfigError(
                    name,
                    f"decodes to {len(raw)} bytes; Standard Webhooks wants "
                    f"{_MIN_SECRET_BYTES} to {_MAX_SECRET_BYTES}",
                )
        return cls(secrets=[SecretStr(text) for _, text in resolved])

    async def apply(
        self, request: HttpRequest, context: AuthContext, client: httpx.AsyncClient
    ) -> HttpRequest:
        timestamp = datetime.fromtimestamp(context.unix_time, UTC)
        signatures = [
            signer.sign(msg_id=context.event_id, timestamp=timestamp, data=request.body)
            for signer in self._signers
        ]
        return with_headers(request, _headers(context, signatures))

    def unauthorized(self) -> bool:
        return False

    def ssl_context(self) -> ssl.SSLContext | None:
        return None


def _private_key(text: str, *, field: str) -> Ed25519PrivateKey:
    if text.startswith(PUBLIC_KEY_PREFIX):
        raise AuthConfigError(field, "is a public key (whpk_); the sender needs the whsk_ key")
    if text.startswith(SYMMETRIC_SECRET_PREFIX):
        raise AuthConfigError(field, "is a symmetric secret: use type standard-webhooks-v1")
    raw = _decode_base64(text.removeprefix(SECRET_KEY_PREFIX), field=field, what="a whsk_ key")
    # A bare 32-byte seed (RFC 8032) or libsodium's 64 bytes: seed then public key.
    if len(raw) not in {_ED25519_SEED_BYTES, 2 * _ED25519_SEED_BYTES}:
        raise AuthConfigError(
            field,
            f"decodes to {len(raw)} bytes; an Ed25519 private key has 32 (or 64 with "
            "the public key appended)",
        )
    key = Ed25519PrivateKey.from_private_bytes(raw[:_ED25519_SEED_BYTES])
    if len(raw) > _ED25519_SEED_BYTES and raw[_ED25519_SEED_BYTES:] != _public_bytes(key):
        raise AuthConfigError(field, "its second half is not the public key of its first half")
    return key


def _public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


class StandardWebhooksV1aAuth:
    """`v1a,<base64 Ed25519 signature>` per private key."""

    def __init__(self, *, keys: Sequence[Ed25519PrivateKey]) -> None:
        if not keys:
            raise ValueError("at least one key signs")
        self._keys = tuple(keys)

    @classmethod
    def from_config(
        cls, config: StandardWebhooksV1aConfig, *, field: str
    ) -> StandardWebhooksV1aAuth:
        resolved = _secret_fields(
            config.private_key,
            config.previous_private_keys,
            field=field,
            first_name="private_key",
            more_name="previous_private_keys",
        )
        return cls(keys=[_private_key(text, field=name) for name, text in resolved])

    @property
    def public_keys(self) -> tuple[str, ...]:
        """The `whpk_` public keys to hand to the receiver, in signing order."""
        return tuple(
            PUBLIC_KEY_PREFIX + base64.b64encode(_public_bytes(key)).decode("ascii")
            for key in self._keys
        )

    async def apply(
        self, request: HttpRequest, context: AuthContext, client: httpx.AsyncClient
    ) -> HttpRequest:
        content = signed_content(context.event_id, context.unix_time, request.body)
        signatures = [
            "v1a," + base64.b64encode(key.sign(content)).decode("ascii") for key in self._keys
        ]
        return with_headers(request, _headers(context, signatures))

    def unauthorized(self) -> bool:
        return False

    def ssl_context(self) -> ssl.SSLContext | None:
        return None
