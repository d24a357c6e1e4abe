"""The SMTP transport against a real aiosmtpd: MIME layout, TLS modes, AUTH, reply handling."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import SecretStr

from gateway.delivery.auth.none import NoAuth
from gateway.delivery.routes import DeliveryPolicy, Route, TargetKind
from gateway.delivery.transports.base import Outcome
from gateway.delivery.transports.smtp import SmtpTransport
from gateway.sdk.connectors import EmailMessage, HttpRequest, SmtpSpec
from tests.connectors.notify_support import email_notifier
from tests.support.pki import TestCa
from tests.support.smtpd import SmtpServer, smtp_server

TO = "ada.recipient@example.org"
PNG = b"\x89PNG\r\n\x1a\nnot-really-a-png"
EVENT = "0c1d2e3f-0000-4000-8000-000000000001"


def route(timeout_s: float = 5.0) -> Route:
    return Route(
        kind=TargetKind.CONNECTOR,
        target_id="mail",
        carrier_id="acme",
        connector=email_notifier(),
        auth=NoAuth(),
        policy=DeliveryPolicy(timeout_s=timeout_s),
    )


def mail(spec: SmtpSpec, **changes: Any) -> EmailMessage:
    values: dict[str, Any] = {
        "smtp": spec,
        "sender": "Parcel Network <parcels@network.example>",
        "to": TO,
        "subject": "Paczka czeka — kod w środku",
        "text": "Kod: 12345678\n",
        "html": '<p>Kod: <b>12345678</b></p><img src="cid:pickup-qr.png">',
        "inline": (("pickup-qr.png", "image/png", PNG),),
        "headers": {"Content-Language": "pl", "Subject": "ignored: the transport owns it"},
    } | changes
    return EmailMessage(**values)


async def send(message: EmailMessage, *, attempt: int = 1, **transport: Any) -> Outcome:
    async with SmtpTransport(**transport) as smtp:
        return await smtp.send(message, route(), event_id=EVENT, attempt=attempt)


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with smtp_server() as running:
        yield running


@pytest.fixture(autouse=True)
def no_address_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG, logger="gateway")
    caplog.set_level(logging.DEBUG, logger="aiosmtplib")
    yield
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("mail.log")]
    assert not any("ada.recipient" in line for line in ours)


def plain(server: SmtpServer) -> SmtpSpec:
    return SmtpSpec(host=server.host, port=server.port, starttls=False)


async def test_mime_layout_text_html_and_related_png(server: SmtpServer) -> None:
    outcome = await send(mail(plain(server)), attempt=3)
    assert outcome == Outcome(ok=True, status=250)
    [received] = server.received
    assert received.mail_from == "parcels@network.example"  # the envelope: address only
    assert received.rcpt_tos == (TO,)
    message = received.message
    assert message["Subject"] == "Paczka czeka — kod w środku"
    assert message["Content-Language"] == "pl"
    assert message["Message-ID"] == f"<{EVENT}.3@openlocker.invalid>"
    assert message["X-OpenLocker-Event-Id"] == EVENT
    assert message.get_content_type() == "multipart/alternative"
    text, related = message.iter_parts()
    assert text.get_content() == "Kod: 12345678\r\n"  # SMTP line ends
    assert related.get_content_type() == "multipart/related"
    html, image = related.iter_parts()
    assert 'src="cid:pickup-qr.png"' in html.get_content()
    assert (image.get_content_type(), image["Content-ID"]) == ("image/png", "<pickup-qr.png>")
    assert image.get_content() == PNG


async def test_without_html_the_inline_parts_are_attachments(server: SmtpServer) -> None:
    assert (await send(mail(plain(server), html=None))).ok
    message = server.received[0].message
    assert message.get_content_type() == "multipart/mixed"
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "pickup-qr.png"


async def test_a_4xx_at_rcpt_is_retried_and_a_5xx_is_permanent(server: SmtpServer) -> None:
    server.refuse_next_rcpt("450 4.2.1 <ada.recipient@example.org> mailbox busy")
    busy = await send(mail(plain(server)))
    assert (busy.ok, busy.status, busy.permanent) == (False, 450, False)
    assert busy.error == "SMTP 450 4.2.1 at recipient"

    server.refuse_next_rcpt("550 5.1.1 <ada.recipient@example.org> no such user")
    unknown = await send(mail(plain(server)))
    assert (unknown.ok, unknown.status, unknown.permanent) == (False, 550, True)
    assert unknown.error is not None
    assert "ada" not in unknown.error
    assert server.received == []


async def test_a_4xx_and_5xx_at_data(server: SmtpServer) -> None:
    server.fail_next("452 4.3.1 Insufficient system storage", "554 5.6.0 Message rejected")
    later = await send(mail(plain(server)))
    assert (later.status, later.permanent, later.error) == (452, False, "SMTP 452 4.3.1 at DATA")
    never = await send(mail(plain(server)))
    assert (never.status, never.permanent) == (554, True)
    assert (await send(mail(plain(server)))).ok


async def test_starttls_is_insisted_on(server: SmtpServer) -> None:
    outcome = await send(mail(SmtpSpec(host=server.host, port=server.port, starttls=True)))
    assert not outcome.ok
    assert not outcome.permanent
    assert outcome.error is not None
    assert "STARTTLS" in outcome.error
    assert server.received == []


@pytest.fixture
def pki(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting the test CA)."""
    ca = TestCa(tmp_path / "pki")
    issued = ca.server()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(issued.cert_file, issued.key_file)
    client_ctx = ssl.create_default_context(cafile=str(ca.ca_file))
    return server_ctx, client_ctx


def authenticator(user: str, password: str) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            user.encode(),
            password.encode(),
        )
        return AuthResult(success=ok, handled=False)

    return check


async def test_starttls_with_auth_and_an_env_password(
    pki: tuple[ssl.SSLContext, ssl.SSLContext], monkeypatch: pytest.MonkeyPatch
) -> None:
    server_ctx, client_ctx = pki
    monkeypatch.setenv("NOTIFY_TEST_SMTP_PASSWORD", "s3cret-pw")
    with smtp_server(
        tls_context=server_ctx,
        require_starttls=True,
        authenticator=authenticator("mailer", "s3cret-pw"),
        auth_required=True,
    ) as tls_server:
        spec = SmtpSpec(
            host=tls_server.host,
            port=tls_server.port,
            username="mailer",
            password=SecretStr("env:NOTIFY_TEST_SMTP_PASSWORD"),
            starttls=True,
        )
        assert (await send(mail(spec), tls_context=client_ctx)).ok
        assert len(tls_server.received) == 1

        wrong = SmtpSpec(
            host=tls_server.host,
            port=tls_server.port,
            username="mailer",
            password=SecretStr("wrong-pw"),
            starttls=True,
        )
        refused = await send(mail(wrong), tls_context=client_ctx)
        assert (refused.status, refused.permanent) == (535, True)
        assert refused.error is not None
        assert "AUTH" in refused.error
        assert "wrong-pw" not in refused.error


async def test_implicit_tls(pki: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_ctx, client_ctx = pki
    with smtp_server(ssl_context=server_ctx) as tls_server:
        spec = SmtpSpec(host=tls_server.host, port=tls_server.port, starttls=False, use_tls=True)
        assert (await send(mail(spec), tls_context=client_ctx)).ok
        # The default context does not trust the test CA: a TLS failure, retried later.
        untrusted = await send(mail(spec))
        assert not untrusted.ok
        assert not untrusted.permanent
        assert untrusted.error is not None
        assert untrusted.error.startswith("no SMTP reply")


async def test_refused_connection_is_retried_not_raised() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    outcome = await send(mail(SmtpSpec(host="127.0.0.1", port=port, starttls=False)))
    assert not outcome.ok
    assert not outcome.permanent
    assert outcome.status is None
    assert outcome.error is not None
    assert outcome.error.startswith("no SMTP reply")


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A server that accepts and never greets."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


async def test_a_silent_server_is_bounded_by_the_timeout(silent_port: int) -> None:
    spec = SmtpSpec(host="127.0.0.1", port=silent_port, starttls=False, timeout_s=0.5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    outcome = await send(mail(spec))
    assert loop.time() - started < 3
    assert not outcome.ok
    assert not outcome.permanent


async def test_anything_but_email_is_refused_permanently() -> None:
    request = HttpRequest(url="https://example.org", body=b"{}")
    async with SmtpTransport() as smtp:
        outcome = await smtp.send(request, route(), event_id=EVENT, attempt=1)
    assert (outcome.ok, outcome.permanent) == (False, True)


async def test_a_header_with_a_line_break_is_refused_permanently(server: SmtpServer) -> None:
    outcome = await send(mail(plain(server), headers={"X-Note": "a\r\nBcc: eve@example.org"}))
    assert (outcome.ok, outcome.permanent) == (False, True)
    assert server.attempts == 0
