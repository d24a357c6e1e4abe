"""JSON log lines carry one correlation id from an HTTP request to the MQTT command it sends
and the outbox deliveries its transaction queued; recipient data never reaches a line."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path

from tests.observability.conftest import JsonLog, TelemetrySite, eventually

RECIPIENT = {"name": "Jan Kowalski", "email": "jan.kowalski@example.com", "phone": "+48601234567"}


def delivered_lines(log: JsonLog, event_type: str) -> list[dict[str, object]]:
    return [
        line
        for line in log.lines()
        if line["logger"] == "gateway.delivery.engine"
        and f"({event_type})" in str(line["message"])
        and str(line["message"]).endswith("delivered (HTTP 204)")
    ]


async def test_one_id_from_request_to_command_and_delivery(
    telemetry_site: TelemetrySite, json_log: JsonLog
) -> None:
    site = telemetry_site
    assert site.receiver is not None
    subscribed = await site.post("/v1/webhooks", {"url": site.receiver.url()}, key="subscribe-1")
    assert subscribed.status_code == 201, subscribed.text

    body = {"parcelId": "LOG-1", "lockerId": "WAW-CENTRAL-01", "sizeClass": "S"}
    headers = {**site._auth(), "Idempotency-Key": "book-log-1", "X-Request-Id": "req-book-1"}
    booked = await site.client.post(
        "/v1/parcels", json={**body, "recipient": RECIPIENT}, headers=headers
    )
    assert booked.status_code == 201, booked.text
    assert booked.headers["X-Request-Id"] == "req-book-1"

    # The booking's webhook, sent by the delivery engine's own task, logs the request's id.
    await eventually(lambda: _count(delivered_lines(json_log, "parcel.reserved")), 1)
    (reserved,) = delivered_lines(json_log, "parcel.reserved")
    assert reserved["correlation_id"] == "req-book-1"
    access = [line["message"] for line in json_log.with_id("req-book-1")]
    assert "POST /v1/parcels 201" in " ".join(map(str, access))

    # A remote open: the MQTT command's line names the call id and carries the request's id.
    headers = {**site._auth(), "Idempotency-Key": "open-log-1", "X-Request-Id": "req-open-1"}
    opened = await site.client.post("/v1/parcels/LOG-1/open", json={}, headers=headers)
    assert opened.status_code == 200, opened.text
    command = [
        line for line in json_log.with_id("req-open-1") if line["logger"] == "adapters.olp.adapter"
    ]
    assert len(command) == 1, json_log.with_id("req-open-1")
    count = "openlocker_mqtt_command_duration_seconds_count"
    scraped = await site.scrape()
    assert scraped.value(count, action="OpenCompartment", outcome="result") == 1
    assert re.match(
        r"^OpenCompartment [0-9a-f-]{36} to WAW-CENTRAL-01: result in", str(command[0]["message"])
    )

    # The deposit is the locker's doing: its delivery carries the locker message's id.
    door = booked.json()["compartmentCode"]
    site.locker.deposit(door)
    await site.wait_state("LOG-1", "ready_for_pickup")
    await eventually(lambda: _count(delivered_lines(json_log, "parcel.ready_for_pickup")), 1)
    (ready,) = delivered_lines(json_log, "parcel.ready_for_pickup")
    event_id = next(
        r.event_id
        for r in site.receiver.delivered()
        if r.json()["type"] == "parcel.ready_for_pickup"
    )
    assert ready["correlation_id"] not in (None, "req-book-1", "req-open-1", event_id)

    text = json_log.text()
    assert text
    assert all(value not in text for value in RECIPIENT.values())


async def _count(lines: list[dict[str, object]]) -> int:
    await asyncio.sleep(0)
    return len(lines)


async def test_request_ids_taken_checked_or_made(telemetry_site: TelemetrySite) -> None:
    client = telemetry_site.client
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    answer = await client.get(
        "/healthz", headers={"traceparent": f"00-{trace}-00f067aa0ba902b7-01"}
    )
    assert answer.headers["X-Request-Id"] == trace
    taken = await client.get("/healthz", headers={"X-Request-Id": "lb-7f3a.1"})
    assert taken.headers["X-Request-Id"] == "lb-7f3a.1"
    # An id that could forge or bloat log lines is replaced by one of ours.
    for bad in ("has space", "x" * 129, '"quoted"'):
        made = await client.get("/healthz", headers={"X-Request-Id": bad})
        assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-Id"]), bad
    problem = await client.get("/no/such/route", headers={"X-Request-Id": "req-404"})
    assert problem.status_code == 404
    assert problem.headers["X-Request-Id"] == "req-404"


async def test_the_command_logs_json_when_told(tmp_path: Path) -> None:
    env = {**os.environ, "OPENLOCKER_LOGGING__FORMAT": "json"}
    url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys; from gateway.cli import main; sys.exit(main())",
        "--database-url", url, "migrate",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    lines = [json.loads(line) for line in err.decode().splitlines()]
    assert lines
    assert {"ts", "level", "logger", "message"} <= set(lines[0])
    assert any(line["logger"].startswith("alembic") for line in lines)
    assert b"up to date" in out
