"""HMAC, API key and Standard Webhooks v1/v1a: checked against values computed independently
(hashlib/hmac by hand, the `standardwebhooks` library's verify, cryptography's Ed25519 verify)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from gateway.delivery.auth import AuthConfigError, build_auth_plugin, parse_auth_config
from gateway.delivery.auth.standard_webhooks import StandardWebhooksV1aAuth
from gateway.sdk.connectors import HttpRequest
from tests.delivery.auth.conftest import BODY, EVENT_ID, attempt, rendered

HMAC_SECRET = "hmac-shared-secret-0123456789"
UNIX = 1_767_000_000


async def signed(config: dict[str, Any], client: httpx.AsyncClient, **kwargs: Any) -> HttpRequest:
    request = kwargs.pop("request", rendered())
    plugin = build_auth_plugin(parse_auth_config(config))
    return await plugin.apply(request, attempt(**kwargs), client)


# --- HMAC ---------------------------------------------------------------------------------


async def test_hmac_default_signs_the_body_github_style(client: httpx.AsyncClient) -> None:
    config = {
        "type": "hmac",
        "secret": HMAC_SECRET,
        "header": "X-Hub-Signature-256",
        "prefix": "sha256=",
    }
    request = await signed(config, client)

    expected = hmac.new(HMAC_SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert request.headers["X-Hub-Signature-256"] == f"sha256={expected}"
    assert request.body == BODY
    assert request.headers["Content-Type"] == "application/json"


async def test_hmac_request_line_and_body_hash_sha512_base64(client: httpx.AsyncClient) -> None:
    config = {
        "type": "hmac",
        "secret": HMAC_SECRET,
        "algorithm": "sha512",
        "encoding": "base64",
        "canonical": "{method}\n{path}\n{query}\n{timestamp}\n{body_sha256}",
        "timestamp_header": "X-Timestamp",
        "event_id_header": "X-Event-Id",
    }
    request = await signed(config, client, unix_time=UNIX)

    canonical = (
        f"POST\n/v2/locker-events\ntenant=acme\n{UNIX}\n{hashlib.sha256(BODY).hexdigest()}"
    ).encode()
    digest = hmac.new(HMAC_SECRET.encode(), canonical, hashlib.sha512).digest()
    assert request.headers["X-Signature"] == base64.b64encode(digest).decode()
    assert request.headers["X-Timestamp"] == str(UNIX)
    assert request.headers["X-Event-Id"] == EVENT_ID


async def test_hmac_timestamp_event_id_body_sha1_with_hex_secret(
    client: httpx.AsyncClient,
) -> None:
    key = bytes(range(32))
    config = {
        "type": "hmac",
        "secret": key.hex(),
        "secret_encoding": "hex",
        "algorithm": "sha1",
        "canonical": "{timestamp}.{event_id}.{body}",
        "timestamp_header": "Carrier-Timestamp",
    }
    request = await signed(config, client, unix_time=UNIX)

    canonical = f"{UNIX}.{EVENT_ID}.".encode() + BODY
    assert request.headers["X-Signature"] == hmac.new(key, canonical, hashlib.sha1).hexdigest()


async def test_hmac_url_parts_are_those_on_the_wire(client: httpx.AsyncClient) -> None:
    key = b"\x00binary\xffkey"
    config = {
        "type": "hmac",
        "secret": base64.b64encode(key).decode(),
        "secret_encoding": "base64",
        "canonical": "{{v1}}|{host}|{path}|{query}|{url}",
    }
    url = "https://carrier.example:8443/a%20b/c?x=%2F&y=1"
    request = await signed(config, client, request=rendered(url=url))

    canonical = b"{v1}|carrier.example:8443|/a%20b/c|x=%2F&y=1|" + url.encode()
    assert request.headers["X-Signature"] == hmac.new(key, canonical, hashlib.sha256).hexdigest()


async def test_hmac_empty_path_signs_a_slash(client: httpx.AsyncClient) -> None:
    config = {"type": "hmac", "secret": HMAC_SECRET, "canonical": "{method} {path}"}
    request = await signed(config, client, request=rendered(url="https://carrier.example"))

    expected = hmac.new(HMAC_SECRET.encode(), b"POST /", hashlib.sha256).hexdigest()
    assert request.headers["X-Signature"] == expected


async def test_hmac_replaces_a_header_the_connector_set_in_another_case(
    client: httpx.AsyncClient,
) -> None:
    request = HttpRequest(url="https://carrier.example/h", body=b"{}", headers={"x-signature": "x"})
    signed_request = await signed({"type": "hmac", "secret": HMAC_SECRET}, client, request=request)

    assert [name.lower() for name in signed_request.headers].count("x-signature") == 1
    expected = hmac.new(HMAC_SECRET.encode(), b"{}", hashlib.sha256).hexdigest()
    assert signed_request.headers["X-Signature"] == expected


@pytest.mark.parametrize(
    ("encoding", "secret"), [("hex", "not-hex"), ("base64", "***"), ("base64", "")]
)
def test_hmac_secret_in_the_wrong_encoding_is_a_config_error(encoding: str, secret: str) -> None:
    config = parse_auth_config({"type": "hmac", "secret": secret, "secret_encoding": encoding})
    with pytest.raises(AuthConfigError) as error:
        build_auth_plugin(config)
    assert error.value.field == "auth.secret"


# --- API key ------------------------------------------------------------------------------


async def test_api_key_with_scheme_prefix(client: httpx.AsyncClient) -> None:
    config = {"type": "api-key", "header": "Authorization", "value": "k-123", "prefix": "Bearer"}
    request = await signed(config, client)
    assert request.headers["Authorization"] == "Bearer k-123"


async def test_api_key_default_header(client: httpx.AsyncClient) -> None:
    request = await signed({"type": "api-key", "value": "k-123"}, client)
    assert request.headers["X-API-Key"] == "k-123"


def test_api_key_with_a_line_break_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARRIER_KEY", "k-123\r\nX-Injected: 1")
    config = parse_auth_config({"type": "api-key", "value": "env:CARRIER_KEY"})
    with pytest.raises(AuthConfigError) as error:
        build_auth_plugin(config)
    assert error.value.field == "auth.value"
    assert "k-123" not in str(error.value)


# --- Standard Webhooks v1 -----------------------------------------------------------------


def whsec(raw: bytes) -> str:
    return "whsec_" + base64.b64encode(raw).decode()


CURRENT = whsec(b"C" * 32)
PREVIOUS = whsec(b"P" * 24)


async def test_standard_webhooks_v1_verifies_with_the_library(client: httpx.AsyncClient) -> None:
    now = int(time.time())
    request = await signed(
        {"type": "standard-webhooks-v1", "secret": CURRENT}, client, unix_time=now
    )

    assert request.headers["webhook-id"] == EVENT_ID
    assert request.headers["webhook-timestamp"] == str(now)
    assert request.headers["webhook-signature"].startswith("v1,")
    assert Webhook(CURRENT).verify(request.body, dict(request.headers)) == {
        "type": "parcel.ready_for_pickup",
        "parcel": {"id": "P-1"},
        "note": "café",
    }
    with pytest.raises(WebhookVerificationError):
        Webhook(PREVIOUS).verify(request.body, dict(request.headers))
    with pytest.raises(WebhookVerificationError):
        Webhook(CURRENT).verify(request.body + b" ", dict(request.headers))


async def test_standard_webhooks_v1_rotation_signs_with_every_secret(
    client: httpx.AsyncClient,
) -> None:
    config = {"type": "standard-webhooks-v1", "secret": CURRENT, "previous_secrets": [PREVIOUS]}
    request = await signed(config, client, unix_time=int(time.time()))

    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (CURRENT, PREVIOUS):
        Webhook(secret).verify(request.body, dict(request.headers))
    with pytest.raises(WebhookVerificationError):
        Webhook(whsec(b"X" * 32)).verify(request.body, dict(request.headers))


async def test_standard_webhooks_v1_accepts_an_unprefixed_unpadded_secret(
    client: httpx.AsyncClient,
) -> None:
    bare = base64.b64encode(b"U" * 25).decode().rstrip("=")
    config = {"type": "standard-webhooks-v1", "secret": bare}
    request = await signed(config, client, unix_time=int(time.time()))
    Webhook(bare).verify(request.body, dict(request.headers))


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("whsec_not*base64", "not base64"),
        (whsec(b"s" * 16), "16 bytes"),
        (whsec(b"s" * 65), "65 bytes"),
        ("whsk_" + base64.b64encode(b"k" * 32).decode(), "use type standard-webhooks-v1a"),
    ],
)
def test_standard_webhooks_v1_bad_secret_is_a_config_error(secret: str, problem: str) -> None:
    config = parse_auth_config(
        {"type": "standard-webhooks-v1", "secret": CURRENT, "previous_secrets": [secret]}
    )
    with pytest.raises(AuthConfigError) as error:
        build_auth_plugin(config)
    assert error.value.field == "auth.previous_secrets.0"
    assert problem in str(error.value)
    assert secret not in str(error.value)


# --- Standard Webhooks v1a ----------------------------------------------------------------


def whsk(key: Ed25519PrivateKey, *, libsodium: bool = False) -> str:
    seed = key.private_bytes_raw()
    raw = seed + key.public_key().public_bytes_raw() if libsodium else seed
    return "whsk_" + base64.b64encode(raw).decode()


def verify_v1a(public: Ed25519PublicKey, request: HttpRequest) -> None:
    """The spec's check, written from the spec: any `v1a,` signature over id.timestamp.body."""
    content = (
        f"{request.headers['webhook-id']}.{request.headers['webhook-timestamp']}.".encode()
        + request.body
    )
    for entry in request.headers["webhook-signature"].split(" "):
        version, _, signature = entry.partition(",")
        if version != "v1a":
            continue
        try:
            public.verify(base64.b64decode(signature), content)
        except InvalidSignature:
            continue
        return
    raise InvalidSignature("no v1a signature verifies")


@pytest.mark.parametrize("libsodium", [False, True], ids=["seed", "seed+public"])
async def test_standard_webhooks_v1a_verifies_with_the_public_key(
    client: httpx.AsyncClient, libsodium: bool
) -> None:
    key = Ed25519PrivateKey.generate()
    config = {"type": "standard-webhooks-v1a", "private_key": whsk(key, libsodium=libsodium)}
    request = await signed(config, client, unix_time=UNIX)

    assert request.headers["webhook-id"] == EVENT_ID
    assert request.headers["webhook-timestamp"] == str(UNIX)
    assert request.headers["webhook-signature"].startswith("v1a,")
    verify_v1a(key.public_key(), request)
    with pytest.raises(InvalidSignature):
        verify_v1a(Ed25519PrivateKey.generate().public_key(), request)
    tampered = HttpRequest(url=request.url, body=request.body[:-1], headers=request.headers)
    with pytest.raises(InvalidSignature):
        verify_v1a(key.public_key(), tampered)


async def test_standard_webhooks_v1a_rotation_and_public_keys(client: httpx.AsyncClient) -> None:
    current, previous = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    config = parse_auth_config(
        {
            "type": "standard-webhooks-v1a",
            "private_key": whsk(current),
            "previous_private_keys": [whsk(previous)],
        }
    )
    plugin = build_auth_plugin(config)
    request = await plugin.apply(rendered(), attempt(), client)

    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert isinstance(plugin, StandardWebhooksV1aAuth)
    for key, published in zip((current, previous), plugin.public_keys, strict=True):
        raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        assert published == "whpk_" + base64.b64encode(raw).decode()
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(published[5:]))
        verify_v1a(public, request)


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("whpk_" + base64.b64encode(b"p" * 32).decode(), "public key"),
        (whsec(b"s" * 32), "use type standard-webhooks-v1"),
        ("whsk_" + base64.b64encode(b"k" * 31).decode(), "31 bytes"),
        ("whsk_" + base64.b64encode(b"k" * 64).decode(), "not the public key"),
        ("whsk_%%%", "not base64"),
    ],
)
def test_standard_webhooks_v1a_bad_key_is_a_config_error(key: str, problem: str) -> None:
    config = parse_auth_config({"type": "standard-webhooks-v1a", "private_key": key})
    with pytest.raises(AuthConfigError) as error:
        build_auth_plugin(config)
    assert error.value.field == "auth.private_key"
    assert problem in str(error.value)
    assert key not in str(error.value)
