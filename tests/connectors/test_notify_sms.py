"""SMS notifications: rendering and length rules, and delivery through the engine (respx:
the SMS API is a third party we cannot run)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from connectors.notify_common import sms_size
from gateway.domain.webhooks import DeliveryState
from gateway.sdk.connectors import ConnectorConfigError, HttpRequest, MappingError, SkipEvent
from tests.connectors.notify_support import CODE, PERSONAL, PHONE, event, sms_notifier, write
from tests.connectors.notify_world import (
    World,
    no_personal_data_in_logs,
    recipient,
    world,
)

__all__ = ["no_personal_data_in_logs", "world"]  # fixtures, used by name

SMS_URL = "https://sms.example/v1/messages"

# ---- rendering ---------------------------------------------------------------------------------


def test_default_body_has_to_sender_and_text() -> None:
    request = sms_notifier().render(event(language="en"))
    assert isinstance(request, HttpRequest)
    assert (request.url, request.method) == ("https://sms.example/api/send", "POST")
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.body)
    assert body["to"] == PHONE
    assert body["from"] == "PARCELS"
    assert CODE in body["text"]
    assert "Centrum 01" in body["text"]
    assert "\n" not in body["text"]


def test_body_template_nests_and_quotes_safely() -> None:
    shape = {"messages": [{"destinations": [{"to": "{{ to }}"}], "from": "{{ sender }}",
                           "text": "{{ text }}", "flash": False}]}  # fmt: skip
    notifier = sms_notifier(body=shape, headers={"X-Channel": "parcels"})
    request = notifier.render(event(language="en", name='Eve "quote" }'))
    assert isinstance(request, HttpRequest)
    body = json.loads(request.body)
    [message] = body["messages"]
    assert message["destinations"] == [{"to": PHONE}]
    assert message["flash"] is False
    assert request.headers["X-Channel"] == "parcels"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [({"opt_out": True}, "opted out"), ({"phone": None}, "no phone number")],
)
def test_skips_without_personal_data(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(SkipEvent) as caught:
        sms_notifier().render(event(**changes))
    assert reason in caught.value.reason
    assert not any(item in caught.value.reason for item in PERSONAL)


@pytest.mark.parametrize(
    ("text", "encoding", "units", "parts"),
    [
        ("a" * 160, "gsm-7", 160, 1),
        ("a" * 161, "gsm-7", 161, 2),
        ("€" * 80, "gsm-7", 160, 1),  # the extension table takes two septets each
        ("[" * 81, "gsm-7", 162, 2),
        ("a" * 306, "gsm-7", 306, 2),
        ("a" * 307, "gsm-7", 307, 3),
        ("ą" * 70, "ucs-2", 70, 1),  # one Polish letter outside GSM-7 switches the encoding
        ("ą" + "a" * 70, "ucs-2", 71, 2),
        ("😀" * 35, "ucs-2", 70, 1),  # astral characters take two UTF-16 units
        ("a" * 134, "gsm-7", 134, 1),
    ],
)
def test_sms_size(text: str, encoding: str, units: int, parts: int) -> None:
    size = sms_size(text)
    assert (size.encoding, size.units, size.parts) == (encoding, units, parts)


def test_too_long_a_message_is_a_mapping_error_without_its_text(tmp_path: Path) -> None:
    # One letter outside GSM-7 ("ł") makes it UCS-2: 70 characters per single part.
    long = (
        "Paczka {{ parcel.id }} czeka w {{ locker.name }}, kod {{ code }}. Dziękujemy, miłego dnia!"
    )
    write(tmp_path, "acme-post/ready_for_pickup.sms.txt", long)
    notifier = sms_notifier(max_parts=1, template_dir=str(tmp_path))
    with pytest.raises(MappingError) as caught:
        notifier.render(event(language="pl"))
    text = str(caught.value)
    assert "parts" in text
    assert "ucs-2" in text
    assert CODE not in text
    assert not any(item in text for item in PERSONAL)


def test_the_shipped_sms_templates_stay_gsm_7_and_short() -> None:
    notifier = sms_notifier()
    for kind in ("parcel.ready_for_pickup", "parcel.pickup_reminder", "parcel.picked_up"):
        for language in ("pl", "en", "de"):
            request = notifier.render(event(kind, language=language))
            assert isinstance(request, HttpRequest)
            size = sms_size(json.loads(request.body)["text"])
            assert (size.encoding, size.parts) == ("gsm-7", 1), (kind, language, size)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"body": {"text": "{{ text "}}, "body template"),
        ({"body": {"text": "{{ unknown }}"}}, "body template"),
        ({"headers": {"Authorization": "{{ to }}"}}, "static"),
    ],
)
def test_bad_sms_config_stops_the_start(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConnectorConfigError, match=message):
        sms_notifier(**config)


@pytest.mark.parametrize("config", [{"url": "ftp://sms.example/x"}, {"sender": "TOO-LONG-SENDER"}])
def test_bad_sms_fields_are_refused(config: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="validation error"):
        sms_notifier(**config)


# ---- through the engine --------------------------------------------------------------------------


async def attach_sms(world: World, monkeypatch: pytest.MonkeyPatch, **config: Any) -> None:
    monkeypatch.setenv("NOTIFY_TEST_SMS_KEY", "sms-key-123")
    values = {"url": SMS_URL, "sender": "PARCELS"} | config
    auth = {"type": "api-key", "header": "Authorization", "prefix": "Bearer",
            "value": "env:NOTIFY_TEST_SMS_KEY"}  # fmt: skip
    await world.attach("sms", "sms", values, auth=auth)


async def test_sms_is_sent_with_the_api_key_and_a_working_code(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await attach_sms(world, monkeypatch)
    await world.ready("SMS-1", recipient())
    with respx.mock(assert_all_called=True) as api:
        route = api.post(SMS_URL).mock(return_value=httpx.Response(200, json={"id": "m-1"}))
        await world.deliver()
    [call] = route.calls
    assert call.request.headers["Authorization"] == "Bearer sms-key-123"
    body = json.loads(call.request.content)
    assert body["to"] == PHONE
    assert body["from"] == "PARCELS"
    [issued] = world.issued
    assert issued.access is not None
    assert issued.access.code is not None
    assert f"Kod: {issued.access.code}" in body["text"]
    [row] = await world.rows("sms")
    assert (row.state, row.last_status) == (DeliveryState.DELIVERED, 200)


async def test_sms_api_429_waits_for_retry_after(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await attach_sms(world, monkeypatch)
    await world.ready("SMS-2", recipient())
    with respx.mock() as api:
        route = api.post(SMS_URL).mock(
            return_value=httpx.Response(429, headers={"Retry-After": "45"})
        )
        before = world.clock()
        await world.deliver()
    assert route.call_count == 1
    [row] = await world.rows("sms")
    assert (row.state, row.last_status) == (DeliveryState.PENDING, 429)
    assert row.next_attempt_at is not None
    wait = row.next_attempt_at - before
    assert timedelta(seconds=44) <= wait <= timedelta(seconds=50)  # not the 5-10 s back-off


async def test_sms_api_401_with_a_static_key_is_not_retried_at_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await attach_sms(world, monkeypatch)
    await world.ready("SMS-3", recipient())
    with respx.mock() as api:
        route = api.post(SMS_URL).mock(return_value=httpx.Response(401))
        await world.deliver()
    assert route.call_count == 1  # a static key would be refused again
    [row] = await world.rows("sms")
    assert row.state is not DeliveryState.DELIVERED
    assert row.last_status == 401
    assert not any(p in (row.last_error or "") for p in PERSONAL)


async def test_sms_opt_out_calls_nothing(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    await attach_sms(world, monkeypatch)
    await world.ready("SMS-4", recipient(opt_out=True))
    with respx.mock(assert_all_called=False) as api:
        route = api.post(SMS_URL).mock(return_value=httpx.Response(200))
        await world.deliver()
    assert route.call_count == 0
    [row] = await world.rows("sms")
    assert row.state is DeliveryState.SKIPPED
