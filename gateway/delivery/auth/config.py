"""The auth block of an attachment: one strict pydantic model per plugin, told apart by `type`.

Secret fields are `SecretStr` and may be written `env:NAME` or `file:/path`; the reference is
kept as written (so the attachment table stores it, not the secret) and resolved by
`build_auth_plugin`. Every model except `mtls` takes an optional `tls` block, a client
certificate presented on the TLS connection: `oauth2-client-credentials` + `tls` is OAuth2 over
mutual TLS; `mtls` is a certificate and nothing else.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from gateway.delivery.auth.errors import AuthConfigError
from gateway.errors import FieldIssue

__all__ = [
    "HMAC_PLACEHOLDERS",
    "ApiKeyConfig",
    "AuthConfig",
    "AuthType",
    "HmacAlgorithm",
    "HmacConfig",
    "NoAuthConfig",
    "OAuth2ClientCredentialsConfig",
    "OlpJwsConfig",
    "SecretEncoding",
    "SignatureEncoding",
    "StandardWebhooksV1Config",
    "StandardWebhooksV1aConfig",
    "TlsClientConfig",
    "TlsOnlyConfig",
    "TokenAuthMethod",
    "parse_auth_config",
]


class AuthType(StrEnum):
    NONE = "none"
    OLP_JWS = "olp-jws"
    OAUTH2_CLIENT_CREDENTIALS = "oauth2-client-credentials"
    API_KEY = "api-key"
    HMAC = "hmac"
    MTLS = "mtls"
    STANDARD_WEBHOOKS_V1 = "standard-webhooks-v1"
    STANDARD_WEBHOOKS_V1A = "standard-webhooks-v1a"


class TokenAuthMethod(StrEnum):
    """How the client authenticates at the token endpoint (RFC 6749 section 2.3.1)."""

    # Method names, not secrets (S105).
    CLIENT_SECRET_BASIC = "client_secret_basic"  # noqa: S105  # HTTP Basic header
    CLIENT_SECRET_POST = "client_secret_post"  # noqa: S105  # id and secret in the form body


class HmacAlgorithm(StrEnum):
    SHA256 = "sha256"
    SHA512 = "sha512"
    SHA1 = "sha1"  # only for receivers that know nothing better


class SignatureEncoding(StrEnum):
    HEX = "hex"  # lowercase
    BASE64 = "base64"  # standard alphabet, padded


class SecretEncoding(StrEnum):
    """How the configured HMAC secret turns into key bytes."""

    UTF8 = "utf8"  # the text as written (what most providers mean)
    HEX = "hex"
    BASE64 = "base64"


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}")


def _header_name(value: str) -> str:
    if not _TOKEN.fullmatch(value):
        raise ValueError("not an HTTP header name (letters, digits and !#$%&'*+.^_`|~-)")
    return value


HeaderName = Annotated[
    str,
    AfterValidator(_header_name),
    Field(description="An HTTP header name (RFC 9110 token)."),
]

# What a canonical-string template may name; see HmacConfig.canonical.
HMAC_PLACEHOLDERS: Mapping[str, str] = {
    "method": "HTTP method, upper case (POST)",
    "url": "the full request URL as sent",
    "host": "host of the URL, with :port when the URL has one",
    "path": "path of the URL as sent (percent-encoded), `/` when empty",
    "query": "query string without `?`, empty when none",
    "timestamp": "the attempt's Unix time in seconds (also sent in timestamp_header)",
    "event_id": "the event id, stable across attempts",
    "body": "the request body, byte for byte",
    "body_sha256": "lowercase hex SHA-256 of the body",
}


class _AuthModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsClientConfig(_AuthModel):
    """A client certificate for mutual TLS, loaded at start-up (a bad file fails there)."""

    cert_file: Path = Field(description="PEM client certificate (chain), leaf first.")
    key_file: Path | None = Field(
        default=None, description="PEM private key; omit when it is inside cert_file."
    )
    key_password: SecretStr | None = Field(
        default=None, description="Password of an encrypted key_file (env:/file: allowed)."
    )
    ca_file: Path | None = Field(
        default=None,
        description="PEM CA bundle that signs the server certificate; default: system CAs.",
    )


class _WithTls(_AuthModel):
    tls: TlsClientConfig | None = Field(
        default=None, description="Also present this client certificate (mutual TLS)."
    )


class NoAuthConfig(_WithTls):
    """Nothing added to the request (the endpoint is open, or a `tls` block authenticates)."""

    type: Literal[AuthType.NONE] = AuthType.NONE


class OlpJwsConfig(_WithTls):
    """OLP's own webhook signature: a detached JWS over the body with the network key."""

    type: Literal[AuthType.OLP_JWS] = AuthType.OLP_JWS


class TlsOnlyConfig(TlsClientConfig):
    """Mutual TLS alone: the client certificate is the credential, the request is unchanged."""

    type: Literal[AuthType.MTLS] = AuthType.MTLS


_RESERVED_TOKEN_PARAMS = frozenset(
    {"grant_type", "client_id", "client_secret", "scope", "audience"}
)


class OAuth2ClientCredentialsConfig(_WithTls):
    """OAuth2 client credentials grant (RFC 6749 section 4.4); the token goes in as Bearer."""

    type: Literal[AuthType.OAUTH2_CLIENT_CREDENTIALS] = AuthType.OAUTH2_CLIENT_CREDENTIALS
    token_url: HttpUrl = Field(description="The authorization server's token endpoint.")
    client_id: str = Field(min_length=1)
    client_secret: SecretStr = Field(description="The client secret (env:/file: allowed).")
    scope: str | list[str] | None = Field(
        default=None, description="Requested scope: a space-separated string or a list."
    )
    audience: str | None = Field(
        default=None, description="`audience` form parameter (Auth0, Okta and others want it)."
    )
    extra_params: dict[str, str] = Field(
        default_factory=dict, description="More form parameters for the token request."
    )
    token_auth_method: TokenAuthMethod = TokenAuthMethod.CLIENT_SECRET_BASIC
    expiry_leeway_s: float = Field(
        default=30.0,
        ge=0,
        description="Fetch a new token this long before expires_in runs out (at most half "
        "the token's lifetime).",
    )
    timeout_s: float = Field(default=10.0, gt=0, description="Token request timeout.")

    @field_validator("extra_params")
    @classmethod
    def _no_reserved_params(cls, value: dict[str, str]) -> dict[str, str]:
        clash = sorted(_RESERVED_TOKEN_PARAMS & value.keys())
        if clash:
            raise ValueError(f"set {', '.join(clash)} with its own key, not in extra_params")
        return value


class ApiKeyConfig(_WithTls):
    """A static key in one header: `<header>: [<prefix> ]<value>`."""

    type: Literal[AuthType.API_KEY] = AuthType.API_KEY
    header: HeaderName = "X-API-Key"
    value: SecretStr = Field(description="The key (env:/file: allowed).")
    prefix: str | None = Field(
        default=None,
        pattern=r"^[!-~]+$",
        description="Scheme written before the key and a space, e.g. Bearer or Token.",
    )


class HmacConfig(_WithTls):
    """An HMAC of a canonical string built from the request, in one header.

    The header value is `<prefix><signature>`; `canonical` is a template whose placeholders
    are listed in HMAC_PLACEHOLDERS (`{{` and `}}` are literal braces). The default, `{body}`,
    is the GitHub/Shopify style body signature.
    """

    type: Literal[AuthType.HMAC] = AuthType.HMAC
    secret: SecretStr = Field(description="The shared secret (env:/file: allowed).")
    secret_encoding: SecretEncoding = Field(
        default=SecretEncoding.UTF8, description="How the secret text becomes key bytes."
    )
    header: HeaderName = "X-Signature"
    algorithm: HmacAlgorithm = HmacAlgorithm.SHA256
    encoding: SignatureEncoding = SignatureEncoding.HEX
    prefix: str = Field(
        default="", pattern=r"^[ -~]*$", description='Written before the signature: "sha256=".'
    )
    canonical: str = Field(
        default="{body}",
        min_length=1,
        description="What is signed. Placeholders: "
        + "; ".join(f"{{{name}}} {meaning}" for name, meaning in HMAC_PLACEHOLDERS.items())
        + ". Example: '{method}\\n{path}\\n{timestamp}\\n{body}'.",
    )
    timestamp_header: HeaderName | None = Field(
        default=None, description="Send {timestamp} in this header (required if signed)."
    )
    event_id_header: HeaderName | None = Field(
        default=None, description="Send the event id in this header."
    )

    @field_validator("canonical")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        try:
            parts = list(string.Formatter().parse(value))
        except ValueError as err:  # a lone `{` or `}`
            raise ValueError(
                f"not a valid template ({err}); write literal braces as {{{{ }}}}"
            ) from None
        for _, name, spec, conversion in parts:
            if name is None:
                continue
            if name not in HMAC_PLACEHOLDERS:
                known = ", ".join(f"{{{key}}}" for key in HMAC_PLACEHOLDERS)
                raise ValueError(f"unknown placeholder {{{name}}}; known: {known}")
            if spec or conversion:
                raise ValueError(f"placeholder {{{name}}} takes no format spec or conversion")
        return value

    def placeholders(self) -> frozenset[str]:
        """The placeholder names `canonical` uses."""
        parsed = string.Formatter().parse(self.canonical)
        return frozenset(name for _, name, _, _ in parsed if name is not None)

    @model_validator(mode="after")
    def _timestamp_is_sent(self) -> HmacConfig:
        if self.timestamp_header is None and "timestamp" in self.placeholders():
            raise ValueError(
                "canonical signs {timestamp} but timestamp_header is not set, so the receiver "
                "could not rebuild the string"
            )
        return self


class StandardWebhooksV1Config(_WithTls):
    """Standard Webhooks 1.0 symmetric signature (`v1`, HMAC-SHA256), signed by the
    `standardwebhooks` library; sets webhook-id, webhook-timestamp and webhook-signature."""

    type: Literal[AuthType.STANDARD_WEBHOOKS_V1] = AuthType.STANDARD_WEBHOOKS_V1
    secret: SecretStr = Field(description="`whsec_` + base64 of 24..64 random bytes.")
    previous_secrets: list[SecretStr] = Field(
        default_factory=list,
        description="Also sign with these during a rotation (space-separated signatures).",
    )


class StandardWebhooksV1aConfig(_WithTls):
    """Standard Webhooks 1.0 asymmetric signature (`v1a`, Ed25519); the receiver verifies
    with the public key (`whpk_...`), which the built plugin's `public_keys` lists."""

    type: Literal[AuthType.STANDARD_WEBHOOKS_V1A] = AuthType.STANDARD_WEBHOOKS_V1A
    private_key: SecretStr = Field(
        description="`whsk_` + base64 of the 32-byte Ed25519 seed (or 64 bytes seed+public)."
    )
    previous_private_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Also sign with these during a rotation (space-separated signatures).",
    )


AuthConfig = Annotated[
    NoAuthConfig
    | OlpJwsConfig
    | OAuth2ClientCredentialsConfig
    | ApiKeyConfig
    | HmacConfig
    | TlsOnlyConfig
    | StandardWebhooksV1Config
    | StandardWebhooksV1aConfig,
    Field(discriminator="type"),
]
"""Any auth block; `type` picks the model."""

_ADAPTER: TypeAdapter[AuthConfig] = TypeAdapter(AuthConfig)
_TAGS = frozenset(member.value for member in AuthType)


def parse_auth_config(data: Mapping[str, Any] | None, *, field: str = "auth") -> AuthConfig:
    """A validated auth block (None: no auth), or an AuthConfigError naming every bad field.

    Values are never echoed: a secret typed into the wrong key must not reach a log.
    """
    if data is None:
        return NoAuthConfig()
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as err:
        issues = tuple(_issue(error, field=field) for error in err.errors(include_input=False))
        summary = "; ".join(f"{issue.pointer}: {issue.detail}" for issue in issues)
        raise AuthConfigError(field, f"invalid: {summary}", issues=issues) from None


def _issue(error: Any, *, field: str) -> FieldIssue:
    loc = [str(part) for part in error["loc"]]
    # A discriminated union puts the tag first (`["hmac", "canonical"]`): not a field.
    if loc and loc[0] in _TAGS:
        loc = loc[1:]
    kind = error["type"]
    if kind == "union_tag_invalid":
        known = ", ".join(member.value for member in AuthType)
        detail, loc = f"unknown auth type; expected one of: {known}", ["type"]
    elif kind == "union_tag_not_found":
        detail, loc = 'missing; say which plugin, e.g. type = "api-key"', ["type"]
    elif kind == "extra_forbidden":
        detail = "unknown key"
    else:
        detail = str(error["msg"]).removeprefix("Value error, ")
    return FieldIssue("/" + "/".join([field, *loc]), detail)
