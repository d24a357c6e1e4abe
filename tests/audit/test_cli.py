"""`openlocker audit head | verify | show` on a SQLite file, through the real entry point."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import delete, update

from gateway.cli import main
from gateway.domain.audit import AuditAction
from gateway.store import Store
from gateway.store.tables import audit_log as t


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"

    async def fill() -> None:
        async with Store.connect(url) as store:
            await store.migrate()
            async with store.transaction() as tx:
                await tx.audit.append(
                    AuditAction.CODE_ISSUED, actor="carrier:acme", subject="uid-1"
                )
                for locker in ("L1", "L2", "L1"):
                    await tx.audit.append(
                        AuditAction.CODE_TRIED,
                        actor=f"locker:{locker}",
                        subject=locker,
                        details={"result": "rejected"},
                    )
                await tx.audit.append(
                    AuditAction.KEYPAD_LOCKOUT, actor="locker:L1", subject="L1", details={}
                )

    asyncio.run(fill())
    return url


def tamper(url: str, stmt: object) -> None:
    async def run() -> None:
        async with Store.connect(url) as store, store.engine.begin() as conn:
            await conn.execute(stmt)  # type: ignore[call-overload]

    asyncio.run(run())


def cli(db: str, *args: str) -> int:
    return main(["--database-url", db, "audit", *args])


def test_head_then_verify_against_it(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(db, "head") == 0
    head = capsys.readouterr().out.strip()
    assert head.startswith("5:")
    assert len(head) == 2 + 64

    assert cli(db, "verify", "--expect-head", head) == 0
    assert f"intact: 5 entries, head {head}" in capsys.readouterr().out


def test_a_truncated_tail_fails_verify_only_with_the_anchor(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cli(db, "head")
    head = capsys.readouterr().out.strip()
    tamper(db, delete(t).where(t.c.position == 5))

    assert cli(db, "verify") == 0
    capsys.readouterr()
    assert cli(db, "verify", "--expect-head", head) == 1
    err = capsys.readouterr().err
    assert "BROKEN at position 5 (truncated)" in err
    assert "4 entries verified" in err


def test_an_altered_row_fails_verify(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    tamper(db, update(t).where(t.c.position == 3).values(actor="operator"))

    assert cli(db, "verify") == 1
    assert "BROKEN at position 3 (altered)" in capsys.readouterr().err


def test_show_lists_the_newest_entries_and_filters(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(db, "show", "--limit", "2") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["4", "5"]
    assert "keypad.lockout" in lines[1]

    assert cli(db, "show", "--action", "code.tried", "--subject", "L1") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["2", "4"]

    assert cli(db, "show", "--action", "key.created") == 0
    assert capsys.readouterr().out.strip() == "no audit entries"


@pytest.mark.parametrize(
    "args",
    [
        ("verify", "--expect-head", "5"),
        ("verify", "--expect-head", "5:nothex"),
        ("show", "--limit", "0"),
        ("show", "--action", "door.kicked"),
    ],
)
def test_bad_arguments_are_refused_with_usage(
    db: str, args: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli(db, *args)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err
