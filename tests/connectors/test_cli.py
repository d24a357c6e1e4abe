"""`openlocker connectors list | add | test | disable | enable`, run as the operator runs them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from gateway.cli import main
from tests.webhooks.conftest import FakeCarrier

API_KEY = "ak-live-0123456789abcdef"
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


async def run(db: str, *argv: str) -> int:
    """The CLI in a worker thread, as from a shell (it runs its own event loop)."""
    return await asyncio.to_thread(main, ["--database-url", db, "connectors", *argv])


def write(tmp_path: Path, name: str, content: str) -> str:
    path = tmp_path / name
    path.write_text(content)
    return str(path)


async def add_standard_webhooks(
    db: str, tmp_path: Path, url: str, auth: dict[str, str], *extra: str
) -> int:
    return await run(
        db,
        "add",
        "--id",
        "acme-sw",
        "--carrier",
        "acme",
        "--connector",
        "standard-webhooks",
        "--config",
        write(tmp_path, "config.toml", f'url = "{url}"\n'),
        "--auth",
        write(tmp_path, "auth.json", json.dumps(auth)),
        *extra,
    )


async def test_add_list_disable_enable(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_KEY", API_KEY)
    auth = {"type": "api-key", "value": "env:ACME_KEY"}
    assert await add_standard_webhooks(db, tmp_path, "https://acme.example/h", auth) == 0
    assert "attached 'standard-webhooks' to carrier 'acme' as 'acme-sw'" in capsys.readouterr().out

    assert await run(db, "list") == 0
    line = capsys.readouterr().out.strip()
    assert line.split("\t") == [
        "acme-sw",
        "acme",
        "standard-webhooks",
        "outbound-events",
        "active",
        "pending=0 dead=0",
        "source=cli",
    ]

    assert await run(db, "disable", "acme-sw", "--reason", "carrier maintenance") == 0
    assert await run(db, "list") == 0
    assert "\tdisabled (carrier maintenance)\t" in capsys.readouterr().out
    assert await run(db, "enable", "acme-sw") == 0
    assert await run(db, "list") == 0
    assert "\tactive\t" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--carrier", "initech"], "connectors[x].carrier: no carrier 'initech' is registered"),
        (["--connector", "nope"], "connectors[x].connector: no connector 'nope'"),
        (["--events", "parcel.beamed"], "connectors[x].events[0]: unknown event type"),
    ],
)
async def test_add_refuses_what_the_start_would_refuse(
    db: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    expected: str,
) -> None:
    config = write(tmp_path, "c.json", json.dumps({"url": "https://x.example", "pw": API_KEY}))
    base = {"--id": "x", "--carrier": "acme", "--connector": "standard-webhooks"}
    for flag, value in zip(argv[::2], argv[1::2], strict=True):
        base[flag] = value
    flat = [part for pair in base.items() for part in pair]

    assert await run(db, "add", *flat, "--config", config) == 2

    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert expected in err
    if "--connector" not in argv:  # an unknown connector has no config model to check
        assert "connectors[x].config.pw: unknown key" in err
    assert API_KEY not in err  # the value typed into the wrong key is not echoed
    assert await run(db, "list") == 0
    assert capsys.readouterr().out == ""


async def test_add_names_a_bad_file(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write(tmp_path, "c.toml", 'url = "https://x.example\n')
    assert (
        await run(
            db, "add", "--id", "x", "--carrier", "acme", "--connector", "epcis", "--config", bad
        )
        == 2
    )
    assert "--config: " in capsys.readouterr().err
    assert (
        await run(
            db,
            "add",
            "--id",
            "x",
            "--carrier",
            "acme",
            "--connector",
            "epcis",
            "--config",
            write(tmp_path, "c.yaml", "url: x"),
        )
        == 2
    )
    assert "must end in .toml or .json" in capsys.readouterr().err


async def test_test_shows_the_request_with_secrets_masked(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    auth = {"type": "standard-webhooks-v1", "secret": WHSEC}
    assert await add_standard_webhooks(db, tmp_path, "https://acme.example/h", auth) == 0
    capsys.readouterr()

    assert await run(db, "test", "acme-sw", "--event-type", "parcel.picked_up") == 0

    out = capsys.readouterr().out
    assert "sample event parcel.picked_up (eventId " in out
    assert "POST https://acme.example/h" in out
    assert "webhook-signature: ****" in out
    assert '"type":"parcel.picked_up"' in out.replace(" ", "")
    assert WHSEC not in out
    assert WHSEC.removeprefix("whsec_") not in out


async def test_test_send_delivers_once_through_the_auth_plugin(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    auth = {"type": "standard-webhooks-v1", "secret": WHSEC}
    async with FakeCarrier() as carrier:
        assert await add_standard_webhooks(db, tmp_path, carrier.url(), auth) == 0
        assert await run(db, "test", "acme-sw", "--send") == 0
        (got,) = carrier.received

    out = capsys.readouterr().out
    assert "delivered status 204" in out
    # The receiver's own library accepts what was sent.
    payload = Webhook(WHSEC).verify(got.body, got.headers)
    assert payload["type"] == "parcel.ready_for_pickup"


async def test_test_send_reports_a_refusal(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with FakeCarrier() as carrier:
        carrier.on().always_fail = True
        assert await add_standard_webhooks(db, tmp_path, carrier.url(), {"type": "none"}) == 0
        assert await run(db, "test", "acme-sw", "--send") == 1
    assert "failed status 500" in capsys.readouterr().out


async def test_test_of_an_event_the_attachment_leaves_out(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        await add_standard_webhooks(
            db, tmp_path, "https://a.example", {"type": "none"}, "--events", "parcel.picked_up"
        )
        == 0
    )
    assert await run(db, "test", "acme-sw") == 0
    assert "not sent: the attachment's events filter leaves out" in capsys.readouterr().out
    assert await run(db, "test", "nobody") == 2
    assert "no connector attachment 'nobody'" in capsys.readouterr().err


def test_describe_masks_credentials_of_every_kind_of_request() -> None:
    from pydantic import SecretStr

    from gateway.cli.connectors import describe, mask
    from gateway.sdk.connectors import (
        BrokerSpec,
        EmailMessage,
        HttpRequest,
        MqttPublish,
        SmtpSpec,
    )

    http = HttpRequest(
        url=f"https://x.example/h?key={API_KEY}",
        body=b'{"a": 1}',
        headers={"Authorization": "Bearer abc", "X-Hub-Signature-256": "sha256=ff", "X-A": "1"},
    )
    shown = mask(describe(http), [API_KEY])
    assert "Authorization: ****" in shown
    assert "X-Hub-Signature-256: ****" in shown
    assert "X-A: 1" in shown
    assert API_KEY not in shown

    broker = BrokerSpec(url="mqtts://b.example:8883", username="u", password=SecretStr(API_KEY))
    mqtt = MqttPublish(broker=broker, topic="t/1", payload=b"{}", user_properties={"id": "e1"})
    assert describe(mqtt).startswith("MQTT publish to mqtts://b.example:8883 topic t/1 qos 1")
    assert API_KEY not in describe(mqtt)

    smtp = SmtpSpec(host="smtp.example", password=SecretStr(API_KEY))
    email = EmailMessage(
        smtp=smtp,
        sender="lockers@example.org",
        to="ada@example.org",
        subject="Your parcel",
        text="Code 123456",
        inline=(("qr.png", "image/png", b"\x89PNG"),),
    )
    text = describe(email)
    assert "SMTP smtp.example:587" in text
    assert "-- inline qr.png (image/png, 4 bytes)" in text
    assert API_KEY not in text
