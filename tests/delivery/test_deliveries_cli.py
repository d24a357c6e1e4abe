"""`openlocker deliveries list | replay` against a real database file, over every carrier."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.domain.delivery import AttachmentSource, TargetKind
from gateway.domain.webhooks import DeliveryState
from gateway.sdk.connectors.samples import sample_event
from gateway.service.carriers import CarrierService
from gateway.spec import Spec
from gateway.store import (
    ConnectorAttachmentRecord,
    NewDelivery,
    Store,
    WebhookSubscriptionRecord,
)
from gateway.wire import dump
from tests.support.carriers import TestCarrier

WEBHOOK = "0b6a3f1e-2c4d-4e5f-8a9b-0c1d2e3f4a5b"


@dataclass(frozen=True)
class Rows:
    """The ids of what `seed` wrote, by what each row is."""

    webhook_dead: int
    connector_dead: tuple[int, int]
    disabled_dead: int
    skipped: int
    pending: int


def url_of(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"


def run(tmp_path: Path, *argv: str) -> int:
    return main(["--database-url", url_of(tmp_path), "--network-id", "cli-net", *argv])


def state_of(tmp_path: Path, delivery_id: int) -> DeliveryState:
    async def read() -> DeliveryState:
        async with Store.connect(url_of(tmp_path)) as store, store.transaction() as tx:
            found = await tx.outbox.find(delivery_id)
        assert found is not None
        return found.state

    return asyncio.run(read())


def new_row(carrier_id: str, kind: TargetKind, target_id: str, parcel_id: str) -> NewDelivery:
    body = dump(sample_event(carrier_id=carrier_id, recipient=False))
    body["parcel"]["parcelId"] = parcel_id
    return NewDelivery(
        event_id=str(uuid.uuid4()),
        target_id=target_id,
        carrier_id=carrier_id,
        parcel_uid=f"uid-{parcel_id}",
        parcel_seq=1,
        type=body["type"],
        body=body,
        target_kind=kind,
    )


def attachment(attachment_id: str, carrier_id: str, now: datetime) -> ConnectorAttachmentRecord:
    return ConnectorAttachmentRecord(
        id=attachment_id,
        carrier_id=carrier_id,
        connector="standard-webhooks",
        config={"url": "http://127.0.0.1:9/never"},
        source=AttachmentSource.CLI,
        created_at=now,
        updated_at=now,
    )


async def _seed(url: str) -> Rows:
    now = datetime.now(UTC) - timedelta(minutes=5)
    connector, webhook = TargetKind.CONNECTOR, TargetKind.WEBHOOK
    async with Store.connect(url) as store:
        await store.migrate()
        for carrier in ("acme", "globex"):
            jwks = TestCarrier.ed25519(carrier, "cli-net").jwks
            await CarrierService(store=store).register(carrier, jwks)
        async with store.transaction() as tx:
            await tx.webhooks.add(
                WebhookSubscriptionRecord(
                    id=WEBHOOK,
                    carrier_id="acme",
                    url="http://127.0.0.1:9/hooks",
                    events=None,
                    description=None,
                    active=True,
                    created_at=now,
                )
            )
            for a in ("acme-sms", "acme-sw"):
                await tx.connector_attachments.add(attachment(a, "acme", now))
            await tx.connector_attachments.add(attachment("globex-off", "globex", now))
            # Skipped first: the claim below must take this row and no other.
            await tx.outbox.enqueue(new_row("acme", connector, "acme-sms", "CLI-SKIP"), at=now)
            (claimed,) = await tx.outbox.claim(now=now, lease_until=now, limit=10)
            await tx.outbox.mark_skipped(claimed, reason="the recipient opted out")
            for target, kind, parcel in [
                (WEBHOOK, webhook, "CLI-W"),
                ("acme-sw", connector, "CLI-C1"),
                ("acme-sw", connector, "CLI-C2"),
            ]:
                await tx.outbox.enqueue(new_row("acme", kind, target, parcel), at=now)
            await tx.outbox.enqueue(new_row("globex", connector, "globex-off", "CLI-G"), at=now)
            for target, kind in [
                (WEBHOOK, webhook),
                ("acme-sw", connector),
                ("globex-off", connector),
            ]:
                await tx.outbox.kill_pending(target, "HTTP 503", kind=kind)
            await tx.connector_attachments.set_active(
                "globex-off", False, at=now, reason="410 Gone from the endpoint"
            )
            later = now + timedelta(days=1)  # not due: stays pending during the test
            await tx.outbox.enqueue(new_row("acme", connector, "acme-sw", "CLI-P"), at=later)
            rows, _ = await tx.outbox.page_all_targets(carrier_id=None, limit=10)
    ids = {r.body["parcel"]["parcelId"]: r.id for r in rows}
    return Rows(
        webhook_dead=ids["CLI-W"],
        connector_dead=(ids["CLI-C1"], ids["CLI-C2"]),
        disabled_dead=ids["CLI-G"],
        skipped=ids["CLI-SKIP"],
        pending=ids["CLI-P"],
    )


@pytest.fixture
def rows(tmp_path: Path) -> Rows:
    return asyncio.run(_seed(url_of(tmp_path)))


def listed_ids(out: str) -> list[int]:
    return [int(line.split()[0]) for line in out.splitlines() if line.split()[0].isdigit()]


def test_lists_every_carriers_deliveries_with_filters(
    tmp_path: Path, rows: Rows, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(tmp_path, "deliveries", "list") == 0
    out = capsys.readouterr().out
    everything = sorted(
        [rows.skipped, rows.webhook_dead, *rows.connector_dead, rows.disabled_dead, rows.pending]
    )
    assert listed_ids(out) == everything
    skipped_line = next(line for line in out.splitlines() if line.split()[0] == str(rows.skipped))
    assert "skipped" in skipped_line
    assert "connector:acme-sms" in skipped_line
    assert "the recipient opted out" in skipped_line

    assert run(tmp_path, "deliveries", "list", "--carrier", "globex") == 0
    assert listed_ids(capsys.readouterr().out) == [rows.disabled_dead]
    assert run(tmp_path, "deliveries", "list", "--state", "dead", "--target", "acme-sw") == 0
    assert listed_ids(capsys.readouterr().out) == list(rows.connector_dead)
    assert run(tmp_path, "deliveries", "list", "--carrier", "nobody") == 0
    assert capsys.readouterr().out == "no deliveries\n"


def test_lists_in_pages_and_as_json(
    tmp_path: Path, rows: Rows, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(tmp_path, "deliveries", "list", "--limit", "2") == 0
    out = capsys.readouterr().out
    first = listed_ids(out)
    assert len(first) == 2
    assert f"(more: --after {first[-1]})" in out
    assert run(tmp_path, "deliveries", "list", "--after", str(first[-1]), "--limit", "50") == 0
    rest = listed_ids(capsys.readouterr().out)
    assert first[-1] < rest[0]
    assert len(first + rest) == 6

    assert run(tmp_path, "deliveries", "list", "--state", "dead", "--json") == 0
    lines = capsys.readouterr().out.splitlines()
    spec = Spec.load()
    parsed = [json.loads(line) for line in lines]
    for item in parsed:
        spec.validate("delivery", item)
    assert [d["id"] for d in parsed] == sorted(
        [rows.webhook_dead, *rows.connector_dead, rows.disabled_dead]
    )
    assert {d["targetKind"] for d in parsed} == {"webhook", "connector"}


def test_replays_by_id_and_reports_refusals(
    tmp_path: Path, rows: Rows, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = [rows.webhook_dead, rows.skipped, rows.disabled_dead, rows.pending, 99999]
    assert run(tmp_path, "deliveries", "replay", *map(str, ids)) == 1
    captured = capsys.readouterr()
    assert f"{rows.webhook_dead} replayed" in captured.out
    assert f"{rows.skipped} replayed" in captured.out
    assert "is disabled (410 Gone from the endpoint)" in captured.err
    assert f"{rows.pending} refused: delivery {rows.pending} is pending" in captured.err
    assert "99999 refused: no delivery 99999" in captured.err
    assert state_of(tmp_path, rows.webhook_dead) is DeliveryState.PENDING
    assert state_of(tmp_path, rows.skipped) is DeliveryState.PENDING
    assert state_of(tmp_path, rows.disabled_dead) is DeliveryState.DEAD
    # All replayed: success.
    assert run(tmp_path, "deliveries", "replay", str(rows.connector_dead[0])) == 0


def test_replays_every_dead_letter_of_a_target(
    tmp_path: Path, rows: Rows, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(tmp_path, "deliveries", "replay", "--all-dead", "--target", "acme-sw") == 0
    assert capsys.readouterr().out == "2 dead deliveries of acme-sw replayed\n"
    assert [state_of(tmp_path, i) for i in rows.connector_dead] == [DeliveryState.PENDING] * 2
    assert state_of(tmp_path, rows.webhook_dead) is DeliveryState.DEAD  # another target

    # A disabled target: nothing is replayed, and the operator is told why.
    assert run(tmp_path, "deliveries", "replay", "--all-dead", "--target", "globex-off") == 2
    assert "is disabled" in capsys.readouterr().err
    assert state_of(tmp_path, rows.disabled_dead) is DeliveryState.DEAD
    assert run(tmp_path, "deliveries", "replay", "--all-dead", "--target", "acme-sw") == 0
    assert capsys.readouterr().out == "0 dead deliveries of acme-sw replayed\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["replay"],
        ["replay", "--all-dead"],
        ["replay", "1", "--all-dead", "--target", "acme-sw"],
        ["replay", "1", "--target", "acme-sw"],
    ],
)
def test_replay_usage_errors(
    tmp_path: Path, rows: Rows, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(tmp_path, "deliveries", *argv) == 2
    assert capsys.readouterr().err.startswith("error: ")


@pytest.mark.parametrize(
    "argv",
    [
        ["list", "--state", "failed"],
        ["list", "--limit", "0"],
        ["replay", "abc"],
        ["replay", "0"],
    ],
)
def test_bad_arguments_are_refused(
    tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        run(tmp_path, "deliveries", *argv)
    assert exited.value.code == 2
    assert "error: argument" in capsys.readouterr().err
