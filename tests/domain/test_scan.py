"""Query on scan, the pure rules: whose policy applies, what a known parcel's scan means."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.domain.enums import Direction, ParcelState, SizeClass
from gateway.domain.parcel import Parcel
from gateway.domain.scan import (
    ScanAnswer,
    ScanDecision,
    ScanPolicy,
    ScanRefusal,
    ScanRules,
    known_parcel_refusal,
)
from gateway.domain.sizes import SizeRequirement

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


def parcel(state: ParcelState, locker_id: str = "L1") -> Parcel:
    return Parcel(
        uid="u1",
        carrier_id="acme",
        parcel_id="P1",
        direction=Direction.LAST_MILE,
        state=state,
        locker_id=locker_id,
        need=SizeRequirement(size_class=SizeClass.S),
        created_at=NOW,
        updated_at=NOW,
    )


def test_a_carriers_own_policy_wins_over_the_networks() -> None:
    rules = ScanRules.of("refuse", {"acme": "hold"}, timedelta(hours=24))
    assert rules.policy_for("acme") is ScanPolicy.HOLD
    assert rules.policy_for("globex") is ScanPolicy.REFUSE
    assert rules.confirm_window == timedelta(hours=24)
    assert ScanRules().policy_for("acme") is ScanPolicy.REFUSE  # refuse unless configured


def test_an_unknown_policy_name_is_an_error() -> None:
    with pytest.raises(ValueError, match="accept"):
        ScanRules.of("accept", {}, timedelta(hours=1))


@pytest.mark.parametrize(
    ("state", "locker", "refusal"),
    [
        (ParcelState.ANNOUNCED, "L1", None),
        (ParcelState.RESERVED, "L1", None),
        (ParcelState.RESERVED, "L2", ScanRefusal.OTHER_LOCKER),
        (ParcelState.READY_FOR_PICKUP, "L1", ScanRefusal.NOT_DEPOSITABLE),
        (ParcelState.CANCELLED, "L1", ScanRefusal.NOT_DEPOSITABLE),
        (ParcelState.DROPOFF_ANNOUNCED, "L1", ScanRefusal.NOT_DEPOSITABLE),
    ],
)
def test_a_known_parcel_is_deposited_only_where_and_when_it_is_expected(
    state: ParcelState, locker: str, refusal: ScanRefusal | None
) -> None:
    assert known_parcel_refusal(parcel(state, locker), "L1") is refusal


def test_an_answer_carries_what_its_decision_needs_and_nothing_else() -> None:
    accepted = ScanAnswer.accepted("P1", "A01", unadvised=True)
    assert (accepted.decision, accepted.reason) == (ScanDecision.ACCEPTED, None)
    refused = ScanAnswer.refused("P1", ScanRefusal.NO_CARRIER)
    assert (refused.decision, refused.compartment_code) == (ScanDecision.REFUSED, None)
    with pytest.raises(ValueError, match="Accepted names a compartment"):
        ScanAnswer("P1", ScanDecision.ACCEPTED)
    with pytest.raises(ValueError, match="Accepted names a compartment"):
        ScanAnswer("P1", ScanDecision.REFUSED, "A01", reason=ScanRefusal.NO_CARRIER)
