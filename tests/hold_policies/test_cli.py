"""`openlocker hold-policy …` through the real entry point, on a SQLite file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.domain.audit import AuditAction
from gateway.domain.hold_policy import HoldPolicy, PolicyScope
from gateway.service.carriers import CarrierService
from gateway.store import Store
from tests.support.carriers import TestCarrier


def run(db: str, *args: str) -> int:
    return main(["--database-url", db, "--network-id", "cli-net", "hold-policy", *args])


def test_policies_are_set_shown_listed_and_removed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'policies.db'}"

    async def prepare() -> None:
        async with Store.connect(db) as store:
            await store.migrate()
            await CarrierService(store=store).register(
                "acme", TestCarrier.ed25519("acme", "cli-net").jwks
            )

    asyncio.run(prepare())
    assert (
        run(db, "set", "carrier", "acme", "--reminder-hours", "48,6", "--extension-days", "3") == 0
    )
    assert "reminderHours=48,6" in capsys.readouterr().out
    assert run(db, "set", "network", "cli-net", "--hold-days", "4", "--reason", "winter") == 0
    assert run(db, "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[:2] for line in lines[-2:]] == [
        ["carrier", "acme"],
        ["network", "cli-net"],
    ]
    assert run(db, "show", "network", "cli-net") == 0
    assert "holdDays=4" in capsys.readouterr().out

    # Refused with status 2 and a reason, nothing stored.
    assert run(db, "set", "carrier", "nobody", "--hold-days", "3") == 2
    assert "no carrier 'nobody'" in capsys.readouterr().err
    assert run(db, "set", "carrier", "acme", "--hold-days", "40") == 2
    assert "holdDays must be 1..30" in capsys.readouterr().err
    assert run(db, "set", "carrier", "acme", "--reminder-hours", "a,b") == 2
    assert run(db, "set", "carrier", "acme") == 2
    assert "give --hold-days" in capsys.readouterr().err

    assert run(db, "delete", "network", "cli-net") == 0
    assert run(db, "show", "network", "cli-net") == 2

    async def check() -> None:
        async with Store.connect(db) as store, store.transaction() as tx:
            record = await tx.hold_policies.get(PolicyScope.CARRIER, "acme")
            assert record is not None
            assert record.policy == HoldPolicy(reminder_hours=(48, 6), extension_days=3)
            entries = await tx.audit.latest(10, action=AuditAction.ADMIN_ACTION.value)
            assert {e.actor for e in entries} == {"operator"}
            assert len(entries) == 3  # two set, one delete

    asyncio.run(check())
