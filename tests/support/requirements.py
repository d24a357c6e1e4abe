"""What the suite needs from the machine: missing means a failure, unless skipped by name.

A green run must mean every test ran. A machine without PostgreSQL, Node or `mosquitto_passwd`
fails the tests that need it, with the reason; a developer who knows they lack one says so
explicitly: `OPENLOCKER_TEST_SKIP=postgres,node ./scripts/test` (names: postgres, node,
mosquitto_passwd, chromium). `./scripts/test` installs Mosquitto, Node and Chromium (with its
driver) when they are missing.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

SKIP_VARIABLE = "OPENLOCKER_TEST_SKIP"
KNOWN = frozenset({"postgres", "node", "mosquitto_passwd", "chromium"})


def allowed_to_skip(requirement: str) -> bool:
    if requirement not in KNOWN:
        raise ValueError(f"unknown test requirement {requirement!r}")
    listed = {name.strip() for name in os.environ.get(SKIP_VARIABLE, "").split(",")}
    return requirement in listed


def missing(requirement: str, reason: str) -> NoReturn:
    """Fail the test for a missing requirement, or skip it when the run says so by name."""
    if allowed_to_skip(requirement):
        pytest.skip(f"{reason} ({SKIP_VARIABLE} lists {requirement})")
    pytest.fail(
        f"{reason}; install it, or run with {SKIP_VARIABLE}={requirement} to skip these tests",
        pytrace=False,
    )
