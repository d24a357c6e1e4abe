"""A missing PostgreSQL, Node or mosquitto_passwd fails the run unless skipped by name."""

from __future__ import annotations

import pytest

from tests.support.requirements import SKIP_VARIABLE, allowed_to_skip, missing


def test_a_missing_requirement_fails_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SKIP_VARIABLE, raising=False)
    monkeypatch.setenv("CI", "")  # CI or not: a green run means every test ran
    with pytest.raises(pytest.fail.Exception, match="OPENLOCKER_TEST_SKIP=postgres"):
        missing("postgres", "PostgreSQL is not reachable")


def test_a_requirement_skipped_by_name_is_a_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SKIP_VARIABLE, "node, postgres")
    with pytest.raises(pytest.skip.Exception, match="lists postgres"):
        missing("postgres", "PostgreSQL is not reachable")
    assert allowed_to_skip("node")
    assert not allowed_to_skip("mosquitto_passwd")


def test_an_unknown_requirement_name_is_a_bug() -> None:
    with pytest.raises(ValueError, match="unknown test requirement"):
        allowed_to_skip("postgress")
