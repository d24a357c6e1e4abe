"""What the carrier client raises: the gateway's problems, a network out of reach, bad webhooks."""

from __future__ import annotations

from typing import Any

import httpx

__all__ = [
    "CarrierApiError",
    "CarrierClientError",
    "NetworkUnreachable",
    "WebhookSignatureError",
    "problem_of",
]


class CarrierClientError(Exception):
    """Base of everything the carrier client raises on purpose."""


class CarrierApiError(CarrierClientError):
    """An RFC 9457 problem answered by the gateway (after any retries)."""

    def __init__(self, status: int, problem: dict[str, Any], *, attempts: int = 1) -> None:
        super().__init__(f"{status} {problem.get('code')}: {problem.get('detail')}")
        self.status = status
        self.problem = problem
        self.attempts = attempts

    @property
    def code(self) -> str | None:
        """The OLP error code (`NoCompartmentAvailable`, `IdempotencyConflict`...)."""
        code = self.problem.get("code")
        return code if isinstance(code, str) else None


class NetworkUnreachable(CarrierClientError):
    """No answer at all (connection refused, reset, timed out), after every retry."""

    def __init__(self, url: str, attempts: int, reason: str) -> None:
        super().__init__(f"{url}: no answer after {attempts} attempt(s): {reason}")
        self.url = url
        self.attempts = attempts


class WebhookSignatureError(CarrierClientError, ValueError):
    """A webhook request whose `OLP-Signature` does not prove it came from the network."""


def problem_of(response: httpx.Response) -> dict[str, Any]:
    """The problem object of an error answer, or a stand-in naming what came instead."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    return {"status": response.status_code, "detail": response.text[:200]}
