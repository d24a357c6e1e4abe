"""The browser fixtures' own rules: a missing Chromium fails the run unless skipped by name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support import browser as support
from tests.support.requirements import SKIP_VARIABLE


def test_a_missing_chromium_fails_unless_skipped_by_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(support, "CHROMIUM", tmp_path / "chromium")
    monkeypatch.setattr(support, "CHROMEDRIVER", tmp_path / "chromedriver")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv(SKIP_VARIABLE, raising=False)
    with pytest.raises(pytest.fail.Exception, match="OPENLOCKER_TEST_SKIP=chromium"):
        support.chromium_paths()
    monkeypatch.setenv(SKIP_VARIABLE, "chromium")
    with pytest.raises(pytest.skip.Exception, match="lists chromium"):
        support.chromium_paths()


def test_artefact_names_are_plain_file_names() -> None:
    name = support.artefact_name("tests/browser/test_kiosk.py::test_a_scan[phone-1]")
    assert name == "test_kiosk-test_a_scan-phone-1"
