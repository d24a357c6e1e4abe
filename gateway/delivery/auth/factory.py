"""Builds the auth plugin of one attachment from its validated config, secrets resolved."""

from __future__ import annotations

from collections.abc import Callable

from gateway.clock import Clock, utc_now
from gateway.delivery.auth.api_key import ApiKeyAuth
from gateway.delivery.auth.base import AuthPlugin
from gateway.delivery.auth.config import (
    ApiKeyConfig,
    AuthConfig,
    HmacConfig,
    NoAuthConfig,
    OAuth2ClientCredentialsConfig,
    OlpJwsConfig,
    StandardWebhooksV1aConfig,
    StandardWebhooksV1Config,
    TlsOnlyConfig,
)
from gateway.delivery.auth.errors import AuthConfigError, AuthFailed
from gateway.delivery.auth.hmac_signature import HmacAuth
from gateway.delivery.auth.none import NoAuth
from gateway.delivery.auth.oauth2 import OAuth2ClientCredentialsAuth
from gateway.delivery.auth.standard_webhooks import StandardWebhooksV1aAuth, StandardWebhooksV1Auth
from gateway.delivery.auth.tls import WithClientCertificate, client_ssl_context

__all__ = ["AuthConfigError", "AuthFailed", "build_auth_plugin"]


def build_auth_plugin(
    config: AuthConfig,
    *,
    sign_olp: Callable[[bytes], str] | None = None,
    clock: Clock = utc_now,
    field: str = "auth",
) -> AuthPlugin:
    """The plugin `config` describes, ready to sign: every secret reference is read and every
    key and certificate loaded here, so a bad one is an AuthConfigError at start-up.

    `sign_olp` is the network key's detached-JWS signer (needed by `olp-jws` only); `clock`
    times OAuth2 token expiry; `field` prefixes field names in errors (`auth.client_secret`).
    """
    if isinstance(config, TlsOnlyConfig):
        return WithClientCertificate(
            inner=NoAuth(), context=client_ssl_context(config, field=field)
        )
    plugin = _credentials(config, sign_olp=sign_olp, clock=clock, field=field)
    if config.tls is None:
        return plugin
    context = client_ssl_context(config.tls, field=f"{field}.tls")
    return WithClientCertificate(inner=plugin, context=context)


def _credentials(
    config: AuthConfig, *, sign_olp: Callable[[bytes], str] | None, clock: Clock, field: str
) -> AuthPlugin:
    match config:
        case NoAuthConfig():
            return NoAuth()
        case OlpJwsConfig():
            if sign_olp is None:
                raise AuthConfigError(
                    f"{field}.type",
                    "olp-jws signs with the network key, which is not available here",
                )
            # Imported here: the OLP signer belongs to the webhook half of the engine.
            from gateway.delivery.auth.olp_jws import OlpJwsAuth

            return OlpJwsAuth(sign=sign_olp)
        case OAuth2ClientCredentialsConfig():
            return OAuth2ClientCredentialsAuth.from_config(config, field=field, clock=clock)
        case ApiKeyConfig():
            return ApiKeyAuth.from_config(config, field=field)
        case HmacConfig():
            return HmacAuth.from_config(config, field=field)
        case StandardWebhooksV1Config():
            return StandardWebhooksV1Auth.from_config(config, field=field)
        case StandardWebhooksV1aConfig():
            return StandardWebhooksV1aAuth.from_config(config, field=field)
        case TlsOnlyConfig():  # handled by the caller; here for exhaustiveness
            return NoAuth()
