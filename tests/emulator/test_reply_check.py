"""`--check-replies first`: a fleet validates the gateway's first reply of each action in full,
and only the members it routes by in the rest (bench/boot_storm.py; ~17 % of a 10,000-locker
fleet's CPU went to validating every reply)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from locker_emulator import Spec
from locker_emulator.messages import Kind, envelope
from locker_emulator.spec import ReplyCheck


def _boot_result(status: str = "Accepted") -> dict[str, Any]:
    now = datetime.now(UTC)
    payload = {
        "status": status,
        "heartbeatIntervalSeconds": 60,
        "currentTime": now.isoformat().replace("+00:00", "Z"),
    }
    reply = envelope(
        kind=Kind.RESULT, action="Boot", src="gw:test", ts=now, payload=payload, corr="boot-1"
    )
    reply["seq"] = 1
    return reply


def _problems(check: ReplyCheck, message: dict[str, Any]) -> list[str]:
    return check.envelope_problems(message) or check.message_problems(message)


def test_every_reply_is_checked_in_full_by_default(spec: Spec) -> None:
    check = ReplyCheck(spec)
    assert _problems(check, _boot_result()) == []
    assert _problems(check, _boot_result("Maybe")) != []


def test_first_checks_the_first_of_each_action_in_full_then_trusts_the_values(
    spec: Spec,
) -> None:
    check = ReplyCheck(spec, "first")
    assert _problems(check, _boot_result("Maybe")) != []  # a bad first one is still caught
    assert _problems(check, _boot_result()) == []
    # After one passed, a value the locker does not route by is no longer re-proven...
    assert _problems(check, _boot_result("Maybe")) == []
    # ...but a reply it could not route is still dropped.
    unroutable = _boot_result()
    del unroutable["corr"]
    assert check.envelope_problems(unroutable) == ["at /corr: missing or not a str"]


def test_an_unknown_mode_is_refused(spec: Spec) -> None:
    with pytest.raises(ValueError, match="reply check"):
        ReplyCheck(spec, "some")
