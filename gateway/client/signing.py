"""What the async and the sync client share: who signs, how, and what one attempt sends."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from gateway.client.calls import Call
from gateway.client.discovery import DiscoveryCache, NetworkConfiguration
from gateway.client.errors import CarrierApiError, NetworkUnreachable, problem_of
from gateway.client.models import UnreadableAnswer
from gateway.client.retry import RetryPolicy
from gateway.client.tokens import PrivateKey, algorithm_of, mint_carrier_token

log = logging.getLogger("gateway.client")
T = TypeVar("T")


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


class ClientCore:
    """The state both clients (`CarrierClient`, `SyncCarrierClient`) hold, built one way:
    where they send, whose credentials, the network's configuration, the retry policy."""

    def __init__(
        self,
        base_url: str,
        *,
        carrier_id: str,
        private_key: PrivateKey,
        kid: str,
        audience: str,
        clock: Callable[[], float],
        network: NetworkConfiguration | None,
        retry: RetryPolicy,
    ) -> None:
        self.network = network  # set when built by `discover`
        self._discovered: tuple[str, DiscoveryCache | None] | None = None
        self.base_url = base_url.rstrip("/")
        self.credentials = Credentials(carrier_id, private_key, kid, audience, clock)
        self.retry = retry

    @property
    def network_id(self) -> str:
        return self.credentials.audience

    def token(self, lifetime_s: int = 120) -> str:
        """A fresh single-use request token (new `jti` every time)."""
        return self.credentials.token(lifetime_s)

    def _discovered_at(self, base_url: str, cache: DiscoveryCache | None) -> None:
        """Remember where the configuration came from (refresh_configuration asks there
        again); ValueError if the network does not accept tokens of this key's algorithm."""
        self._discovered = (base_url, cache)
        if self.network is not None:
            check_algorithm(self.credentials, self.network.carrier_token_algorithms)

    def _rediscover_from(self) -> tuple[str, DiscoveryCache | None]:
        """Where to fetch the discovery document again, past any cached copy."""
        base, cache = self._discovered or (self.base_url, None)
        if cache is not None:
            cache.invalidate(base)
        return base, cache


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


def read_answer(call: Call[T], response: httpx.Response) -> T:
    """A success answer read as `call` says; UnreadableAnswer if it cannot be."""
    try:
        return call.parse(response)
    except UnreadableAnswer:
        raise
    except ValueError as err:  # not JSON at all (a proxy's page?)
        raise UnreadableAnswer(f"{call.method} {call.path}: {err}") from err


def wait_after_failure(
    policy: RetryPolicy, call: Call[Any], attempt: int, base_url: str, err: httpx.TransportError
) -> float:
    """Seconds to wait before sending `call` again after a lost connection or a timeout;
    NetworkUnreachable when the policy allows no more attempts."""
    if not policy.may_retry(attempt):
        raise NetworkUnreachable(base_url + call.path, attempt, repr(err)) from err
    wait = policy.after_failure(attempt)
    log_retry(call, attempt, wait, type(err).__name__)
    return wait


def wait_after_answer(
    policy: RetryPolicy, call: Call[Any], attempt: int, response: httpx.Response
) -> float:
    """Seconds to wait before sending `call` again after this error answer; CarrierApiError
    when it is not retried."""
    wait = wait_before_retry(policy, call, attempt, response)
    if wait is None:
        raise CarrierApiError(response.status_code, problem_of(response), attempts=attempt)
    log_retry(call, attempt, wait, str(response.status_code))
    return wait
