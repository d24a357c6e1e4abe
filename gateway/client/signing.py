"""What the async and the sync client share: who signs, how, and what one attempt sends."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from gateway.client.calls import Call
from gateway.client.errors import problem_of
from gateway.client.retry import RetryPolicy
from gateway.client.tokens import PrivateKey, algorithm_of, mint_carrier_token

log = logging.getLogger("gateway.client")


@dataclass(frozen=True, slots=True)
class Credentials:
    """A carrier's identity at one network: its id there, its key, the network's id (`aud`)."""

    carrier_id: str
    private_key: PrivateKey = field(repr=False)
    kid: str
    audience: str
    clock: Callable[[], float] = time.time
    token_lifetime_s: int = 120

    @property
    def algorithm(self) -> str:
        return algorithm_of(self.private_key)

    def token(self, lifetime_s: int | None = None) -> str:
        return mint_carrier_token(
            self.private_key,
            carrier_id=self.carrier_id,
            audience=self.audience,
            kid=self.kid,
            lifetime_s=lifetime_s or self.token_lifetime_s,
            now=self.clock(),
        )

    def headers(self, call: Call[Any]) -> dict[str, str]:
        """One attempt's headers: a fresh token each time (a `jti` is accepted once)."""
        headers = call.headers()
        if call.signed:
            headers["Authorization"] = f"Bearer {self.token()}"
        return headers


def check_algorithm(credentials: Credentials, accepted: list[str]) -> None:
    if credentials.algorithm not in accepted:
        raise ValueError(f"network accepts {accepted} carrier tokens, not {credentials.algorithm}")


def log_retry(call: Call[Any], attempt: int, wait_s: float, why: str) -> None:
    log.warning(
        "%s %s: attempt %d failed (%s); retrying in %.2f s",
        call.method,
        call.path,
        attempt,
        why,
        wait_s,
        extra={"operation": call.operation, "idempotency_key": call.idempotency_key},
    )


DEFAULT_RETRY = RetryPolicy()


def wait_before_retry(
    policy: RetryPolicy, call: Call[Any], attempt: int, response: httpx.Response
) -> float | None:
    """Seconds to wait before sending `call` again after this error answer; None: raise."""
    if (
        call.waits_for_first
        and attempt > 1
        and response.status_code == 409
        and problem_of(response).get("code") == "IdempotencyConflict"
        and policy.may_retry(attempt)
    ):
        # Our own earlier attempt (its answer lost) still holds the key: its outcome comes.
        return policy.after_failure(attempt)
    return policy.after_answer(attempt, response)
