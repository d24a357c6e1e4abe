"""`openlocker operators …` through the real entry point, on a SQLite file."""

from __future__ import annotations

import asyncio
import getpass
import io
from pathlib import Path

import pytest

from gateway.auth.operator_secrets import digest
from gateway.cli import main
from gateway.domain.audit import AuditAction
from gateway.store import Store
from gateway.store.audit import AuditRecord

PASSWORD = "a long enough passphrase"


def run(db: str, *args: str, stdin: str = "", monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["--database-url", db, "operators", *args])


def audit(db: str, action: AuditAction) -> list[AuditRecord]:
    async def read() -> list[AuditRecord]:
        async with Store.connect(db) as store, store.transaction() as tx:
            return await tx.audit.latest(20, action=action.value)

    return asyncio.run(read())


def test_operators_lifecycle_through_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'ops.db'}"
    add = ("add", "ann", "--name", "Ann Example", "--role", "operator", "--password-stdin")
    assert run(db, *add, stdin=PASSWORD + "\n", monkeypatch=monkeypatch) == 0
    assert "operator ann added (operator)" in capsys.readouterr().out
    # The same id twice, a short password, a bad id: refused with status 2, nothing stored.
    assert run(db, *add, stdin=PASSWORD + "\n", monkeypatch=monkeypatch) == 2
    short = ("add", "bob", "--password-stdin")
    assert run(db, *short, stdin="short\n", monkeypatch=monkeypatch) == 2
    assert "12..1024 characters" in capsys.readouterr().err
    assert (
        run(db, "add", "Bad Id", "--password-stdin", stdin=PASSWORD, monkeypatch=monkeypatch) == 2
    )
    assert run(db, "list", monkeypatch=monkeypatch) == 0
    listing = capsys.readouterr().out.splitlines()
    assert len(listing) == 1
    assert listing[0].split()[:3] == ["ann", "operator", "active"]

    create = ("tokens", "create", "ann", "--name", "backup job", "--role", "viewer")
    assert run(db, *create, "--expires-in-days", "30", monkeypatch=monkeypatch) == 0
    printed = capsys.readouterr()
    token = printed.out.splitlines()[-1]
    assert token.startswith("olpo_")
    token_id = printed.out.split()[1]
    assert "shown once" in printed.err

    async def stored_digest() -> str | None:
        async with Store.connect(db) as store, store.transaction() as tx:
            found = await tx.operators.token_by_hash(digest(token))
            return None if found is None else found.id

    assert asyncio.run(stored_digest()) == token_id  # the digest only, found by the secret
    # A token above the operator's role is refused.
    admin_token = ("tokens", "create", "ann", "--name", "x", "--role", "admin")
    assert run(db, *admin_token, monkeypatch=monkeypatch) == 2
    assert run(db, "tokens", "revoke", token_id, monkeypatch=monkeypatch) == 0
    assert run(db, "tokens", "list", "ann", monkeypatch=monkeypatch) == 0
    assert " revoked " in capsys.readouterr().out

    reset = ("reset", "ann", "--password-stdin", "--role", "admin", "--reason", "new team lead")
    assert run(db, *reset, stdin="another long passphrase\n", monkeypatch=monkeypatch) == 0
    assert run(db, "disable", "ann", "--reason", "left the team", monkeypatch=monkeypatch) == 0
    assert run(db, "list", monkeypatch=monkeypatch) == 0
    assert capsys.readouterr().out.split()[-4:-1] == ["admin", "disabled", "Ann"]
    assert run(db, "disable", "nobody", "--reason", "x", monkeypatch=monkeypatch) == 2

    (created,) = audit(db, AuditAction.OPERATOR_CREATED)
    assert (created.actor, created.subject, created.details) == (
        f"cli:{getpass.getuser()}",  # the OS account that ran the command
        "ann",
        {"role": "operator"},
    )
    (disabled,) = audit(db, AuditAction.OPERATOR_DISABLED)
    assert disabled.details["reason"] == "left the team"
    (reset_entry,) = audit(db, AuditAction.OPERATOR_RESET)
    assert reset_entry.details["role"] == "admin"
    assert reset_entry.details["reason"] == "new team lead"
    assert [e.details["tokenId"] for e in audit(db, AuditAction.OPERATOR_TOKEN_REVOKED)] == [
        token_id
    ]


@pytest.mark.parametrize("days", ["inf", "1e9", "nan", "0", "-1", "soon"])
def test_token_expiry_out_of_range_is_an_argument_error(
    days: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # `inf` and 1e9 used to end in an OverflowError traceback from `now + timedelta(days)`.
    db = f"sqlite+aiosqlite:///{tmp_path / 'ops.db'}"
    create = ("tokens", "create", "ann", "--name", "job", "--expires-in-days", days)
    with pytest.raises(SystemExit) as exited:
        run(db, *create, monkeypatch=monkeypatch)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--expires-in-days: expected days in (0, 3650]" in err
    assert "Traceback" not in err
