"""Liveness and readiness bodies (health.json, readiness.json)."""

from __future__ import annotations

from typing import Literal

from gateway.wire.base import WireModel


class HealthOut(WireModel):
    status: Literal["ok"] = "ok"


class ReadinessOut(WireModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str]
