"""Literal secrets in a connector attachment's config/auth are stored sealed, never in clear.

Added through the CLI, through the service (what the gateway's own code and any API call), or
from the settings file; left in clear by an older version: the raw database (SQLite file and
WAL, every PostgreSQL row) holds none of them, deliveries still authenticate against real
receivers that check the secret, `connectors show` prints `<sealed>`, `keys rewrap` moves them
to the new KEK, and a sealed value copied onto another attachment does not open.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import update
from standardwebhooks.webhooks import Webhook

from gateway.app import Gateway
from gateway.cli import main
from gateway.delivery.attachment_secrets import REDACTED, open_record, seal_record
from gateway.delivery.auth import AuthConfigError, resolve_secret
from gateway.domain.audit import AuditAction
from gateway.domain.delivery import AttachmentSource
from gateway.sdk.connectors import EmailMessage
from gateway.service.connectors import ConnectorService, NewAttachment
from gateway.settings import ConnectorAttachmentSettings, SecretsSettings
from gateway.store import ConnectorAttachmentRecord, Store
from gateway.store.tables import connector_attachments
from gateway.tokens.sealing import Keyring, SealError, create_kek_file, file_kek
from tests.http.conftest import settings_for
from tests.support.smtpd import smtp_server
from tests.tokens.test_key_custody import raw_dump
from tests.webhooks.conftest import FakeCarrier, running

API_KEY = "ak-live-7Qm2xV9pL4sT8wZ1"
HMAC_SECRET = "hm-shared-Kd83nVb2Lq0Pz7Ye"
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
WHSEC_OLD = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
CLIENT_SECRET = "cs-9f3a1c0e5b7d4e2aa8b6c4d2e0f1a3b5"
SMTP_PASSWORD = "smtp-pw-Xr4Tq8Lm2Nz6"
TOKEN_URL = "https://auth.carrier.example/oauth2/token"
SECRETS = [API_KEY, HMAC_SECRET, WHSEC, WHSEC_OLD, CLIENT_SECRET, SMTP_PASSWORD]


def needles() -> Iterator[bytes]:
    for secret in SECRETS:
        yield secret.encode()
        yield secret.removeprefix("whsec_").encode()  # the key part alone


async def leaked(url: str) -> list[str]:
    dump = await raw_dump(url)
    assert b"acme" in dump  # it is the database we filled
    return [n.decode()[:10] for n in needles() if n in dump]


def auths(receiver: FakeCarrier) -> dict[str, tuple[str, dict[str, Any], dict[str, Any]]]:
    """id -> (connector, config, auth), every secret literal."""
    hooks = "standard-webhooks"
    return {
        "acme-key": (hooks, {"url": receiver.url("/key")}, {"type": "api-key", "value": API_KEY}),
        "acme-hmac": (
            hooks,
            {"url": receiver.url("/hmac")},
            {"type": "hmac", "secret": HMAC_SECRET, "prefix": "sha256="},
        ),
        "acme-sw": (
            hooks,
            {"url": receiver.url("/sw")},
            {"type": "standard-webhooks-v1", "secret": WHSEC, "previous_secrets": [WHSEC_OLD]},
        ),
        "acme-oauth": (
            hooks,
            {"url": receiver.url("/oauth")},
            {
                "type": "oauth2-client-credentials",
                "token_url": TOKEN_URL,
                "client_id": "openlocker-gw",
                "client_secret": CLIENT_SECRET,
            },
        ),
    }


def check_authenticated(receiver: FakeCarrier, path: str) -> None:
    """What each carrier's receiver checks before it accepts a request."""
    got = receiver.delivered(path)[-1]
    if path == "/key":
        assert got.headers["x-api-key"] == API_KEY
    elif path == "/hmac":
        mac = hmac.new(HMAC_SECRET.encode(), got.body, hashlib.sha256).hexdigest()
        assert got.headers["x-signature"] == f"sha256={mac}"
    elif path == "/sw":
        Webhook(WHSEC).verify(got.body, got.headers)  # raises if not signed with the secret
        Webhook(WHSEC_OLD).verify(got.body, got.headers)  # and the previous one, in rotation
    else:
        assert got.headers["authorization"] == "Bearer tok-1"


@pytest.fixture
def token_endpoint() -> Iterator[respx.MockRouter]:
    """The carrier's OAuth2 token endpoint (a third-party API): hands out a token only for
    the right client secret; every other request goes out for real."""

    def issue(request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        basic = request.headers.get("authorization", "")
        given = base64.b64decode(basic.removeprefix("Basic ")).decode() if basic else ""
        if given != f"openlocker-gw:{CLIENT_SECRET}" and form.get("client_secret") != [
            CLIENT_SECRET
        ]:
            return httpx.Response(401, json={"error": "invalid_client"})
        return httpx.Response(200, json={"access_token": "tok-1", "token_type": "Bearer"})

    with respx.mock(assert_all_called=False) as router:
        router.post(TOKEN_URL).mock(side_effect=issue)
        router.route().pass_through()
        yield router


@pytest.fixture
def kek_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "kek"
    create_kek_file(path)
    monkeypatch.setenv("OPENLOCKER_SECRETS__KEK_FILE", str(path))
    return path


async def cli(db: str, *argv: str) -> int:
    """The CLI in a worker thread, as from a shell (it runs its own event loop)."""
    return await asyncio.to_thread(main, ["--database-url", db, *argv])


def write(tmp_path: Path, name: str, data: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


async def cli_add(db: str, tmp_path: Path, receiver: FakeCarrier) -> None:
    for attachment_id, (connector, config, auth) in auths(receiver).items():
        argv = ["--id", attachment_id, "--carrier", "acme", "--connector", connector]
        argv += ["--config", write(tmp_path, f"{attachment_id}-config.json", config)]
        argv += ["--auth", write(tmp_path, f"{attachment_id}-auth.json", auth)]
        assert await cli(db, "connectors", "add", *argv) == 0


async def test_secrets_added_through_the_cli_are_sealed_shown_redacted_and_still_sent(
    db: str,
    tmp_path: Path,
    kek_file: Path,
    token_endpoint: respx.MockRouter,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with FakeCarrier() as receiver:
        await cli_add(db, tmp_path, receiver)
        assert await leaked(db) == []

        capsys.readouterr()
        assert await cli(db, "connectors", "show", "acme-sw") == 0
        out = capsys.readouterr().out
        shown = json.loads(out)
        assert shown["auth"] == {
            "type": "standard-webhooks-v1",
            "secret": REDACTED,
            "previous_secrets": [REDACTED],
        }
        assert shown["config"] == {"url": receiver.url("/sw")}
        assert not [s for s in SECRETS if s in out]

        for attachment_id, path in [
            ("acme-key", "/key"),
            ("acme-hmac", "/hmac"),
            ("acme-sw", "/sw"),
            ("acme-oauth", "/oauth"),
        ]:
            assert await cli(db, "connectors", "test", attachment_id, "--send") == 0
            check_authenticated(receiver, path)
        out = capsys.readouterr().out
        assert not [s for s in SECRETS if s in out]


async def test_secrets_added_by_the_service_reach_the_carrier_through_the_engine(
    database_url: str,
) -> None:
    """The path any API takes (`ConnectorService.add`), delivered by the running engine."""
    async with FakeCarrier() as receiver, running(database_url, receiver) as hooks:
        for attachment_id, (connector, config, auth) in auths(receiver).items():
            if attachment_id == "acme-oauth":
                continue  # a token endpoint on the internet: the CLI test covers it with respx
            await hooks.site.gateway.connectors.add(
                NewAttachment(
                    id=attachment_id,
                    carrier_id="acme",
                    connector=connector,
                    config=config,
                    auth=auth,
                    events=("parcel.announced",),
                )
            )
        await hooks.book("SEAL-0001")
        for path in ("/key", "/hmac", "/sw"):
            await receiver.wait_for(1, path=path)
            check_authenticated(receiver, path)
    assert await leaked(database_url) == []


async def test_secrets_from_the_settings_file_are_sealed_and_a_restart_rewrites_nothing(
    db: str, tmp_path: Path, kek_file: Path
) -> None:
    entry = ConnectorAttachmentSettings(
        id="acme-mail",
        carrier="acme",
        connector="email",
        config={
            "smtp": {
                "host": "127.0.0.1",
                "port": 2525,
                "username": "mailer",
                "password": SMTP_PASSWORD,
            },
            "from_address": "lockers@net.example",
        },
    )
    settings = settings_for(db, connectors=[entry], secrets=SecretsSettings(kek_file=kek_file))
    async with Gateway(settings=settings) as gateway:
        built = await gateway.connectors.build("acme-mail")
        spec = built.connector.config.smtp  # type: ignore[attr-defined]
        assert spec.password.get_secret_value() == SMTP_PASSWORD  # opened to send
        stored = await gateway.connectors.get("acme-mail")
    assert await leaked(db) == []
    async with Gateway(settings=settings) as gateway:
        again = await gateway.connectors.get("acme-mail")
    # Compared in clear, the settings file's table is unchanged: the row is not rewritten.
    assert again.updated_at == stored.updated_at
    assert again.config == stored.config


# Plain-text AUTH on purpose: the test is about the password, not the channel.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_smtp_password_added_through_the_cli_authenticates_to_the_server(
    db: str, tmp_path: Path, kek_file: Path
) -> None:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"mailer",
            SMTP_PASSWORD.encode(),
        )
        return AuthResult(success=ok, handled=False)

    with smtp_server(authenticator=check, auth_required=True, auth_require_tls=False) as server:
        config = {
            "smtp": {
                "host": server.host,
                "port": server.port,
                "username": "mailer",
                "password": SMTP_PASSWORD,
                "starttls": False,
            },
            "from_address": "lockers@net.example",
        }
        argv = ["--id", "acme-mail", "--carrier", "acme", "--connector", "email"]
        argv += ["--config", write(tmp_path, "mail.json", config)]
        assert await cli(db, "connectors", "add", *argv) == 0
        assert await leaked(db) == []

        async with Store.connect(db) as store:
            keyring = Keyring(current=file_kek(kek_file))
            service = ConnectorService.from_settings(
                settings_for(db), store=store, sign_olp=None, keyring=keyring
            )
            built = await service.build("acme-mail")
            smtp = built.connector.config.smtp.spec()  # type: ignore[attr-defined]
            message = EmailMessage(
                smtp=smtp,
                sender="lockers@net.example",
                to="someone@example.org",
                subject="Your parcel",
                text="Ready.",
            )
            outcome = await service.send_once(built, message, event_id="evt-1")
        assert outcome.ok, outcome.error
        assert len(server.received) == 1


async def test_rewrap_moves_attachment_secrets_to_the_new_kek(
    db: str, tmp_path: Path, kek_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FakeCarrier() as receiver:
        await cli_add(db, tmp_path, receiver)
        new = tmp_path / "new.kek"
        create_kek_file(new)
        monkeypatch.setenv("OPENLOCKER_SECRETS__KEK_FILE", str(new))
        monkeypatch.setenv("OPENLOCKER_SECRETS__PREVIOUS_KEK_FILES", f'["{kek_file}"]')
        assert await cli(db, "keys", "rewrap") == 0
        monkeypatch.delenv("OPENLOCKER_SECRETS__PREVIOUS_KEK_FILES")

        new_id = file_kek(new).key_id
        async with Store.connect(db) as store, store.transaction() as tx:
            records = await tx.connector_attachments.list()
            audit = await tx.audit.page()
        sealed = [
            v for r in records for v in _strings([r.config, r.auth]) if v.startswith("sealed:")
        ]
        assert len(sealed) == 5  # api key, hmac, whsec and its previous one, client secret
        assert {v.split(":")[1] for v in sealed} == {new_id}
        rewrapped = [a for a in audit if a.action == AuditAction.SECRETS_REWRAPPED]
        assert rewrapped[-1].details["sealed"] == 5 + 1  # and the signing key the CLI made
        # Only the new KEK configured now: the attachment still signs with its secret.
        assert await cli(db, "connectors", "test", "acme-sw", "--send") == 0
        check_authenticated(receiver, "/sw")
    assert await leaked(db) == []


async def test_literal_secrets_an_older_version_stored_are_sealed_at_start_never_lost(
    db: str, tmp_path: Path, kek_file: Path
) -> None:
    async with FakeCarrier() as receiver:
        now = datetime.now(UTC)
        async with Store.connect(db) as store, store.transaction() as tx:
            for attachment_id, (connector, config, auth) in auths(receiver).items():
                await tx.connector_attachments.add(
                    ConnectorAttachmentRecord(
                        id=attachment_id,
                        carrier_id="acme",
                        connector=connector,
                        config=config,
                        auth=auth,
                        source=AttachmentSource.CLI,
                        created_at=now,
                        updated_at=now,
                    )
                )
        assert API_KEY.encode() in await raw_dump(db)  # the hole, shown
        settings = settings_for(db, secrets=SecretsSettings(kek_file=kek_file))
        async with Gateway(settings=settings) as gateway:
            async with gateway.store.transaction() as tx:
                sealed = [
                    a for a in await tx.audit.page() if a.action == AuditAction.SECRETS_SEALED
                ]
            assert len(sealed) == 1
            assert sealed[0].details["sealed"] == 5  # keys made at this start are sealed anyway
            built = await gateway.connectors.build("acme-hmac")
            assert gateway.connectors.secret_values(built) == [HMAC_SECRET]
        assert await leaked(db) == []
        assert await cli(db, "connectors", "test", "acme-hmac", "--send") == 0
        check_authenticated(receiver, "/hmac")


async def test_a_sealed_value_copied_onto_another_attachment_does_not_open(
    db: str, kek_file: Path
) -> None:
    keyring = Keyring(current=file_kek(kek_file))
    now = datetime.now(UTC)

    def record(attachment_id: str, auth: dict[str, Any]) -> ConnectorAttachmentRecord:
        return ConnectorAttachmentRecord(
            id=attachment_id,
            carrier_id="acme",
            connector="standard-webhooks",
            config={"url": "https://acme.example/h"},
            auth=auth,
            source=AttachmentSource.CLI,
            created_at=now,
            updated_at=now,
        )

    first, count = await seal_record(keyring, record("a", {"type": "api-key", "value": API_KEY}))
    assert count == 1
    assert first.auth is not None
    assert (await open_record(keyring, first)).auth == {"type": "api-key", "value": API_KEY}
    with pytest.raises(SealError, match="copied from another row"):
        await open_record(keyring, record("b", first.auth))
    async with Store.connect(db) as store:
        async with store.transaction() as tx:
            await tx.connector_attachments.add(first)
            await tx.connector_attachments.add(record("b", {"type": "none"}))
        async with store.engine.begin() as conn:
            await conn.execute(
                update(connector_attachments)
                .where(connector_attachments.c.id == "b")
                .values(auth=first.auth)
            )
    with pytest.raises(SealError):
        async with Gateway(settings=settings_for(db, secrets=SecretsSettings(kek_file=kek_file))):
            pytest.fail("started with a secret that belongs to another attachment")


def test_a_sealed_value_is_never_taken_for_the_secret_itself() -> None:
    sealed = "sealed:kek-AbCdEfGh12345678:" + "A" * 60
    with pytest.raises(AuthConfigError, match="sealed value that was not opened"):
        resolve_secret(sealed, field="auth.value")
    assert resolve_secret("sealed: not the form", field="x").get_secret_value()


def _strings(tree: Any) -> Iterator[str]:
    if isinstance(tree, str):
        yield tree
    elif isinstance(tree, dict):
        for value in tree.values():
            yield from _strings(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _strings(value)
