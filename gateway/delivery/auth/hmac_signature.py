"""The `hmac` plugin: an HMAC (Python's `hmac` module) of a configurable canonical string."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ssl
import string
from collections.abc import Callable

import httpx

from gateway.delivery.auth.base import AuthContext
from gateway.delivery.auth.config import HmacConfig, SecretEncoding, SignatureEncoding
from gateway.delivery.auth.errors import AuthConfigError
from gateway.delivery.auth.headers import with_headers
from gateway.delivery.auth.secrets import resolve_secret
from gateway.sdk.connectors import HttpRequest

__all__ = ["HmacAuth", "canonical_bytes"]

_Part = bytes | Callable[[HttpRequest, AuthContext, httpx.URL], bytes]


def _path(request: HttpRequest, context: AuthContext, url: httpx.URL) -> bytes:
    return url.raw_path.partition(b"?")[0] or b"/"


# Each placeholder of HMAC_PLACEHOLDERS as the bytes that go on the wire: the URL parts come
# from httpx's parse of the URL, which is what httpx sends, not from the configured text.
_VALUES: dict[str, Callable[[HttpRequest, AuthContext, httpx.URL], bytes]] = {
    "method": lambda request, context, url: request.method.upper().encode("ascii"),
    "url": lambda request, context, url: str(url).encode("utf-8"),
    "host": lambda request, context, url: url.netloc,
    "path": _path,
    "query": lambda request, context, url: url.query,
    "timestamp": lambda request, context, url: str(context.unix_time).encode("ascii"),
    "event_id": lambda request, context, url: context.event_id.encode("utf-8"),
    "body": lambda request, context, url: request.body,
    "body_sha256": lambda request, context, url: (
        hashlib.sha256(request.body).hexdigest().encode("ascii")
    ),
}


def _compile(template: str) -> tuple[_Part, ...]:
    """The template as literal byte strings and value getters, parsed once at build time."""
    parts: list[_Part] = []
    for literal, name, _, _ in string.Formatter().parse(template):
        if literal:
            parts.append(literal.encode("utf-8"))
        if name is not None:
            parts.append(_VALUES[name])  # the config model admitted known names only
    return tuple(parts)


def canonical_bytes(template: str, request: HttpRequest, context: AuthContext) -> bytes:
    """The string a template signs for one request (the body stays bytes: it need not be UTF-8)."""
    return _render(_compile(template), request, context)


def _render(parts: tuple[_Part, ...], request: HttpRequest, context: AuthContext) -> bytes:
    url = httpx.URL(request.url)
    return b"".join(
        part if isinstance(part, bytes) else part(request, context, url) for part in parts
    )


def _key_bytes(secret: str, encoding: SecretEncoding, *, field: str) -> bytes:
    try:
        if encoding is SecretEncoding.HEX:
            return bytes.fromhex(secret)
        if encoding is SecretEncoding.BASE64:
            return base64.b64decode(secret, validate=True)
    except (ValueError, binascii.Error):
        raise AuthConfigError(field, f"is not valid {encoding.value} (secret_encoding)") from None
    return secret.encode("utf-8")


class HmacAuth:
    """`<header>: <prefix><HMAC(secret, canonical)>`, plus the timestamp/event-id headers."""

    def __init__(self, *, key: bytes, config: HmacConfig) -> None:
        if not key:
            raise ValueError("an HMAC key must not be empty")
        self._key = key
        self._config = config
        self._parts = _compile(config.canonical)

    @classmethod
    def from_config(cls, config: HmacConfig, *, field: str) -> HmacAuth:
        secret = resolve_secret(config.secret, field=f"{field}.secret").get_secret_value()
        key = _key_bytes(secret, config.secret_encoding, field=f"{field}.secret")
        if not key:
            raise AuthConfigError(f"{field}.secret", "decodes to no bytes")
        return cls(key=key, config=config)

    def signature(self, request: HttpRequest, context: AuthContext) -> str:
        """The header value for `request` (exposed so `connectors test` can show it)."""
        canonical = _render(self._parts, request, context)
        digest = hmac.new(self._key, canonical, self._config.algorithm.value).digest()
        if self._config.encoding is SignatureEncoding.BASE64:
            encoded = base64.b64encode(digest).decode("ascii")
        else:
            encoded = digest.hex()
        return f"{self._config.prefix}{encoded}"

    async def apply(
        self, request: HttpRequest, context: AuthContext, client: httpx.AsyncClient
    ) -> HttpRequest:
        headers = {self._config.header: self.signature(request, context)}
        if self._config.timestamp_header is not None:
            headers[self._config.timestamp_header] = str(context.unix_time)
        if self._config.event_id_header is not None:
            headers[self._config.event_id_header] = context.event_id
        return with_headers(request, headers)

    def unauthorized(self) -> bool:
        return False  # the same secret would sign the same way

    def ssl_context(self) -> ssl.SSLContext | None:
        return None
