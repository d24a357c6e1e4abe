"""The CLI names the OS account that ran it in the audit chain, and a reset says why."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli.operators import cli_actor
from gateway.domain.audit import AuditAction
from tests.admin.test_cli import PASSWORD, audit, run


def test_every_cli_change_is_audited_as_the_os_user_and_a_reset_needs_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'ops.db'}"
    monkeypatch.setenv("LOGNAME", "maria")  # what getpass.getuser() reads first
    assert cli_actor() == "cli:maria"
    add = ("add", "ann", "--role", "operator", "--password-stdin")
    assert run(db, *add, stdin=PASSWORD + "\n", monkeypatch=monkeypatch) == 0
    # No --reason: refused by the argument parser, nothing changed.
    with pytest.raises(SystemExit) as refused:
        run(db, "reset", "ann", "--role", "viewer", monkeypatch=monkeypatch)
    assert refused.value.code == 2
    assert "--reason" in capsys.readouterr().err
    assert audit(db, AuditAction.OPERATOR_RESET) == []
    reset = ("reset", "ann", "--role", "viewer", "--reason", "moved to the call centre")
    assert run(db, *reset, monkeypatch=monkeypatch) == 0
    capsys.readouterr()
    made = ("tokens", "create", "ann", "--name", "report")
    assert run(db, *made, monkeypatch=monkeypatch) == 0
    token_id = capsys.readouterr().out.split()[1]
    assert run(db, "tokens", "revoke", token_id, monkeypatch=monkeypatch) == 0
    assert run(db, "disable", "ann", "--reason", "left", monkeypatch=monkeypatch) == 0

    entries = [
        *audit(db, AuditAction.OPERATOR_CREATED),
        *audit(db, AuditAction.OPERATOR_RESET),
        *audit(db, AuditAction.OPERATOR_TOKEN_CREATED),
        *audit(db, AuditAction.OPERATOR_TOKEN_REVOKED),
        *audit(db, AuditAction.OPERATOR_DISABLED),
    ]
    assert {e.actor for e in entries} == {"cli:maria"}
    (reset_entry,) = audit(db, AuditAction.OPERATOR_RESET)
    assert reset_entry.details == {"role": "viewer", "reason": "moved to the call centre"}
