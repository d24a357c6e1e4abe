"""Mutual TLS against a real aiohttp server that requires a client certificate from its CA."""

from __future__ import annotations

import base64
import logging
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization

from gateway.delivery.auth import (
    AuthConfigError,
    AuthFailed,
    AuthPlugin,
    build_auth_plugin,
    parse_auth_config,
)
from tests.delivery.auth.conftest import attempt, rendered
from tests.support.pki import Issued, TestCa

CLIENT_ID = "gw-client"
CLIENT_SECRET = "mtls-client-secret-42"


@dataclass
class Pki:
    ca: TestCa
    server: Issued
    client: Issued
    foreign: Issued  # a client certificate from a CA the server does not trust


@dataclass
class TlsCarrier:
    """A carrier endpoint and token endpoint behind TLS that demands a client certificate."""

    port: int
    peers: list[str] = field(default_factory=list)  # client certificate CNs, per request

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    ca = TestCa(tmp_path_factory.mktemp("pki"))
    foreign = TestCa(tmp_path_factory.mktemp("foreign-pki"), name="Somebody Else's CA")
    return Pki(ca=ca, server=ca.server(), client=ca.client("gateway"), foreign=foreign.client("x"))


def _peer_name(request: web.Request) -> str:
    peer = request.transport.get_extra_info("peercert") if request.transport else None
    assert peer, "the server requires a client certificate"
    subject = dict(item[0] for item in peer["subject"])
    return str(subject["commonName"])


@pytest.fixture
async def carrier(pki: Pki) -> AsyncIterator[TlsCarrier]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca.ca_file))
    context.load_cert_chain(pki.server.cert_file, pki.server.key_file)
    context.verify_mode = ssl.CERT_REQUIRED
    state = TlsCarrier(port=0)

    async def hook(request: web.Request) -> web.Response:
        state.peers.append(_peer_name(request))
        if request.headers.get("Authorization") not in (None, "Bearer mtls-token"):
            return web.Response(status=401)
        return web.Response(status=204)

    async def token(request: web.Request) -> web.Response:
        state.peers.append(_peer_name(request))
        basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {basic}":
            return web.json_response({"error": "invalid_client"}, status=401)
        return web.json_response({"access_token": "mtls-token", "expires_in": 300})

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.router.add_post("/token", token)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    state.port = int(runner.addresses[0][1])
    try:
        yield state
    finally:
        await runner.cleanup()


def mtls_config(issued: Issued, ca: Path, **extra: Any) -> dict[str, Any]:
    return {
        "cert_file": str(issued.cert_file),
        "key_file": str(issued.key_file),
        "ca_file": str(ca),
        **extra,
    }


async def deliver(plugin: AuthPlugin, url: str) -> httpx.Response:
    """What the engine does for a route: a client with the plugin's TLS context, then send."""
    context = plugin.ssl_context()
    assert context is not None
    async with httpx.AsyncClient(verify=context, timeout=5) as client:
        request = await plugin.apply(rendered(url=url), attempt(), client)
        return await client.post(request.url, content=request.body, headers=dict(request.headers))


async def test_the_right_certificate_is_accepted(pki: Pki, carrier: TlsCarrier) -> None:
    config = {"type": "mtls", **mtls_config(pki.client, pki.ca.ca_file)}
    plugin = build_auth_plugin(parse_auth_config(config))

    response = await deliver(plugin, carrier.url("/hook"))

    assert response.status_code == 204
    assert carrier.peers == ["gateway"]


async def test_without_a_client_certificate_the_handshake_fails(
    pki: Pki, carrier: TlsCarrier
) -> None:
    context = ssl.create_default_context(cafile=str(pki.ca.ca_file))  # trusts the server only
    async with httpx.AsyncClient(verify=context, timeout=5) as client:
        with pytest.raises(httpx.TransportError):
            await client.post(carrier.url("/hook"), content=b"{}")
    assert carrier.peers == []


async def test_a_certificate_from_a_foreign_ca_is_refused(pki: Pki, carrier: TlsCarrier) -> None:
    config = {"type": "mtls", **mtls_config(pki.foreign, pki.ca.ca_file)}
    plugin = build_auth_plugin(parse_auth_config(config))

    with pytest.raises(httpx.TransportError):
        await deliver(plugin, carrier.url("/hook"))
    assert carrier.peers == []


async def test_the_server_is_verified_against_ca_file(pki: Pki, carrier: TlsCarrier) -> None:
    foreign_ca = pki.foreign.cert_file.parent / "ca.pem"
    config = {"type": "mtls", **mtls_config(pki.client, foreign_ca)}
    plugin = build_auth_plugin(parse_auth_config(config))

    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        await deliver(plugin, carrier.url("/hook"))


async def test_oauth2_over_mutual_tls(
    pki: Pki, carrier: TlsCarrier, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx and httpcore log requests at DEBUG
    config = {
        "type": "oauth2-client-credentials",
        "token_url": carrier.url("/token"),
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "tls": mtls_config(pki.client, pki.ca.ca_file),
    }
    plugin = build_auth_plugin(parse_auth_config(config))

    response = await deliver(plugin, carrier.url("/hook"))

    assert response.status_code == 204
    assert carrier.peers == ["gateway", "gateway"]  # the token request, then the delivery
    assert "mtls-token" not in caplog.text
    assert CLIENT_SECRET not in caplog.text


async def test_oauth2_token_endpoint_refusing_the_certificate_is_auth_failed(
    pki: Pki, carrier: TlsCarrier
) -> None:
    config = {
        "type": "oauth2-client-credentials",
        "token_url": carrier.url("/token"),
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "tls": mtls_config(pki.foreign, pki.ca.ca_file),
    }
    plugin = build_auth_plugin(parse_auth_config(config))

    with pytest.raises(AuthFailed, match="unreachable") as failure:
        await deliver(plugin, carrier.url("/hook"))
    assert CLIENT_SECRET not in str(failure.value)


async def test_tls_block_adds_a_certificate_to_another_plugin(
    pki: Pki, carrier: TlsCarrier
) -> None:
    config = {
        "type": "api-key",
        "value": "k-1",
        "tls": mtls_config(pki.client, pki.ca.ca_file),
    }
    plugin = build_auth_plugin(parse_auth_config(config))

    response = await deliver(plugin, carrier.url("/hook"))

    assert response.status_code == 204
    assert plugin.unauthorized() is False


# --- certificate problems are config errors at build time ---------------------------------


def build_error(config: dict[str, Any]) -> AuthConfigError:
    with pytest.raises(AuthConfigError) as error:
        build_auth_plugin(parse_auth_config(config))
    return error.value


def test_missing_certificate_file_names_the_field(pki: Pki, tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    error = build_error({"type": "mtls", "cert_file": str(missing), "key_file": str(missing)})
    assert error.field == "auth.cert_file"
    assert str(missing) in str(error)
    assert "No such file" in str(error)


def test_missing_key_in_a_tls_block_names_the_nested_field(pki: Pki, tmp_path: Path) -> None:
    tls = mtls_config(pki.client, pki.ca.ca_file, key_file=str(tmp_path / "gone-key.pem"))
    error = build_error({"type": "api-key", "value": "k", "tls": tls})
    assert error.field == "auth.tls.key_file"
    assert error.issues[0].pointer == "/auth/tls/key_file"


def test_a_file_that_is_no_certificate(pki: Pki, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("hello")
    error = build_error(
        {"type": "mtls", **mtls_config(pki.client, pki.ca.ca_file, cert_file=str(junk))}
    )
    assert error.field == "auth.cert_file"
    assert "no PEM certificate" in str(error)


def test_a_ca_file_that_is_no_certificate(pki: Pki, tmp_path: Path) -> None:
    junk = tmp_path / "junk-ca.pem"
    junk.write_text("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    error = build_error({"type": "mtls", **mtls_config(pki.client, junk)})
    assert error.field == "auth.ca_file"


def test_a_key_that_does_not_match_the_certificate(pki: Pki) -> None:
    other_key = str(pki.server.key_file)
    error = build_error(
        {"type": "mtls", **mtls_config(pki.client, pki.ca.ca_file, key_file=other_key)}
    )
    assert error.field == "auth.key_file"
    assert "does not match" in str(error)


@pytest.fixture
def encrypted_key(pki: Pki, tmp_path: Path) -> Path:
    key = serialization.load_pem_private_key(pki.client.key_file.read_bytes(), password=None)
    path = tmp_path / "encrypted-key.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"correct horse"),
        )
    )
    return path


async def test_an_encrypted_key_with_its_password_from_env(
    pki: Pki, encrypted_key: Path, carrier: TlsCarrier, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GW_KEY_PASSWORD", "correct horse")
    config = mtls_config(
        pki.client, pki.ca.ca_file, key_file=str(encrypted_key), key_password="env:GW_KEY_PASSWORD"
    )
    plugin = build_auth_plugin(parse_auth_config({"type": "mtls", **config}))
    assert (await deliver(plugin, carrier.url("/hook"))).status_code == 204


def test_an_encrypted_key_without_password(pki: Pki, encrypted_key: Path) -> None:
    config = mtls_config(pki.client, pki.ca.ca_file, key_file=str(encrypted_key))
    error = build_error({"type": "mtls", **config})
    assert error.field == "auth.key_file"
    assert "set key_password" in str(error)


def test_an_encrypted_key_with_the_wrong_password(pki: Pki, encrypted_key: Path) -> None:
    config = mtls_config(
        pki.client, pki.ca.ca_file, key_file=str(encrypted_key), key_password="battery staple"
    )
    error = build_error({"type": "mtls", **config})
    assert error.field == "auth.key_password"
    assert "battery staple" not in str(error)


def test_a_password_for_a_key_that_is_not_encrypted(pki: Pki) -> None:
    config = mtls_config(pki.client, pki.ca.ca_file, key_password="unneeded")
    error = build_error({"type": "mtls", **config})
    assert error.field == "auth.key_password"
    assert "not encrypted" in str(error)
