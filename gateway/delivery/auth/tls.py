"""Mutual TLS: a client-certificate SSL context, built and checked at start-up, and the wrapper
that adds it to any other plugin (the `tls` block) or stands alone (the `mtls` plugin)."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from gateway.delivery.auth.base import AuthContext, AuthPlugin
from gateway.delivery.auth.config import TlsClientConfig
from gateway.delivery.auth.errors import AuthConfigError
from gateway.delivery.auth.secrets import resolve_secret
from gateway.sdk.connectors import HttpRequest

__all__ = ["WithClientCertificate", "client_ssl_context"]


def client_ssl_context(config: TlsClientConfig, *, field: str) -> ssl.SSLContext:
    """A verifying client context that presents `config`'s certificate.

    Every file is read here, so a missing, unreadable or mismatched file stops start-up with
    the field's name instead of failing the first delivery. `ca_file` replaces the system CAs.
    """
    cert_pem = _read(config.cert_file, field=f"{field}.cert_file")
    try:
        x509.load_pem_x509_certificates(cert_pem)
    except ValueError:
        raise AuthConfigError(
            f"{field}.cert_file", f"{config.cert_file} holds no PEM certificate"
        ) from None
    password = (
        resolve_secret(config.key_password, field=f"{field}.key_password").get_secret_value()
        if config.key_password is not None
        else None
    )
    if config.key_file is not None:
        key_pem = _read(config.key_file, field=f"{field}.key_file")
        _check_key(key_pem, password, field=field)
    context = _verifying_context(config, field=field)
    key_field = f"{field}.key_file" if config.key_file is not None else f"{field}.cert_file"
    try:
        # Always a callable: without one OpenSSL would prompt for a password on the terminal.
        context.load_cert_chain(
            config.cert_file, config.key_file, password=lambda: (password or "").encode()
        )
    except ssl.SSLError as err:
        raise _key_error(
            err, key_field=key_field, field=field, has_password=bool(password)
        ) from None
    return context


def _read(path: Path, *, field: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise AuthConfigError(field, f"cannot read {path}: {reason}") from None


def _check_key(key_pem: bytes, password: str | None, *, field: str) -> None:
    """Whether the key file loads with the password: OpenSSL's own errors do not say why."""
    secret = password.encode() if password is not None else None
    try:
        serialization.load_pem_private_key(key_pem, password=secret)
    except TypeError:  # cryptography's way to say "encrypted" / "not encrypted"
        if password is None:
            raise AuthConfigError(
                f"{field}.key_file", "the private key is encrypted: set key_password"
            ) from None
        raise AuthConfigError(
            f"{field}.key_password", "is set but the private key is not encrypted"
        ) from None
    except ValueError:
        if password is not None and b"ENCRYPTED" in key_pem:
            raise AuthConfigError(
                f"{field}.key_password", "does not decrypt the private key"
            ) from None
        raise AuthConfigError(f"{field}.key_file", "holds no PEM private key") from None
    except UnsupportedAlgorithm as err:
        raise AuthConfigError(f"{field}.key_file", f"key type not supported: {err}") from None


def _verifying_context(config: TlsClientConfig, *, field: str) -> ssl.SSLContext:
    if config.ca_file is None:
        return ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    _read(config.ca_file, field=f"{field}.ca_file")
    try:
        return ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(config.ca_file))
    except ssl.SSLError as err:
        raise AuthConfigError(
            f"{field}.ca_file", f"{config.ca_file} holds no PEM CA certificate ({err.reason})"
        ) from None


def _key_error(
    err: ssl.SSLError, *, key_field: str, field: str, has_password: bool
) -> AuthConfigError:
    reason = err.reason or "unknown"
    if reason == "KEY_VALUES_MISMATCH":
        return AuthConfigError(key_field, "the private key does not match the certificate")
    if reason in {"BAD_DECRYPT", "BAD_PASSWORD_READ"} or "decrypt" in reason.lower():
        if has_password:
            return AuthConfigError(f"{field}.key_password", "does not decrypt the private key")
        return AuthConfigError(key_field, "the private key is encrypted: set key_password")
    return AuthConfigError(key_field, f"holds no usable PEM private key ({reason})")


class WithClientCertificate:
    """Another plugin's credentials plus a client certificate on the connection."""

    def __init__(self, *, inner: AuthPlugin, context: ssl.SSLContext) -> None:
        self._inner = inner
        self._context = context

    @property
    def inner(self) -> AuthPlugin:
        return self._inner

    async def apply(
        self, request: HttpRequest, context: AuthContext, client: httpx.AsyncClient
    ) -> HttpRequest:
        return await self._inner.apply(request, context, client)

    def unauthorized(self) -> bool:
        return self._inner.unauthorized()

    def ssl_context(self) -> ssl.SSLContext | None:
        return self._context
