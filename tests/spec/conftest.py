"""Shared fixture: the spec, loaded once per test session as the gateway does at start-up."""

from __future__ import annotations

import pytest

from gateway.spec import Spec


@pytest.fixture(scope="session")
def spec() -> Spec:
    return Spec.load()
