"""Event types and delivery states match the domain and the spec; the retry schedule's bounds."""

from __future__ import annotations

import pytest

from gateway.domain.enums import ParcelState
from gateway.domain.webhooks import DeliveryState, WebhookEventType, retry_delay_s
from gateway.spec import Spec


def test_one_event_type_per_parcel_state_in_order() -> None:
    assert [t.value for t in WebhookEventType] == [f"parcel.{s}" for s in ParcelState]
    assert WebhookEventType.entering(ParcelState.READY_FOR_PICKUP) == "parcel.ready_for_pickup"


def test_the_spec_lists_the_same_types_and_states() -> None:
    defs = Spec.load().schema("webhook-common")["$defs"]
    assert defs["EventType"]["enum"] == [t.value for t in WebhookEventType]
    assert defs["DeliveryState"]["enum"] == [s.value for s in DeliveryState]


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(1, 1.0), (2, 2.0), (3, 4.0), (11, 1024.0), (13, 3600.0)]
)
def test_equal_jitter_stays_in_the_upper_half_of_the_doubling_ceiling(
    attempt: int, ceiling: float
) -> None:
    def schedule(r: float) -> float:
        return retry_delay_s(attempt, base_s=1.0, cap_s=3600.0, rand=lambda: r)

    assert schedule(0.0) == ceiling / 2
    assert schedule(0.5) == ceiling * 3 / 4
    assert schedule(1.0) == ceiling


def test_a_huge_attempt_number_does_not_overflow() -> None:
    assert retry_delay_s(10_000, base_s=1.0, cap_s=60.0, rand=lambda: 1.0) == 60.0
    with pytest.raises(ValueError, match="from 1"):
        retry_delay_s(0, base_s=1.0, cap_s=60.0, rand=lambda: 1.0)
