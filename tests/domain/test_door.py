"""What a door closing or jamming means for the parcel behind it."""

from __future__ import annotations

import pytest

from gateway.domain.door import PURPOSE_FOR_STATE, OpenPurpose, on_close, on_jam
from gateway.domain.enums import ItemSensor, ParcelAction
from gateway.domain.parcel import TRANSITIONS

P = OpenPurpose
I = ItemSensor  # noqa: E741
A = ParcelAction


@pytest.mark.parametrize(
    ("purpose", "item", "action"),
    [
        (P.DEPOSIT, I.PRESENT, A.DEPOSIT),
        (P.DEPOSIT, I.UNKNOWN, A.DEPOSIT),
        (P.DEPOSIT, I.ABSENT, A.FAIL_DEPOSIT),
        (P.DROPOFF, I.PRESENT, A.DROP_OFF),
        (P.DROPOFF, I.ABSENT, A.FAIL_DEPOSIT),
        (P.PICKUP, I.ABSENT, A.PICK_UP),
        (P.PICKUP, I.UNKNOWN, A.PICK_UP),
        (P.PICKUP, I.PRESENT, None),
        (P.COLLECT, I.ABSENT, A.COLLECT),
        (P.COLLECT, I.PRESENT, None),
        (P.SERVICE, I.ABSENT, None),
    ],
)
def test_on_close(purpose: OpenPurpose, item: ItemSensor, action: ParcelAction | None) -> None:
    verdict = on_close(purpose, item)
    assert verdict.action is action
    assert not verdict.fault
    assert verdict.reason


@pytest.mark.parametrize(
    ("purpose", "action"),
    [
        (P.DEPOSIT, A.FAIL_DEPOSIT),
        (P.DROPOFF, A.FAIL_DEPOSIT),
        (P.PICKUP, A.FAIL_PICKUP),
        (P.COLLECT, None),
        (P.SERVICE, None),
    ],
)
def test_on_jam_is_always_a_fault(purpose: OpenPurpose, action: ParcelAction | None) -> None:
    verdict = on_jam(purpose)
    assert verdict.action is action
    assert verdict.fault


def test_every_purpose_leads_to_a_legal_transition() -> None:
    # The action a door session can trigger must be legal in the state that opened it.
    for state, purpose in PURPOSE_FOR_STATE.items():
        for item in ItemSensor:
            verdict = on_close(purpose, item)
            if verdict.action is not None:
                assert (state, verdict.action) in TRANSITIONS, (state, purpose, item)
        jam = on_jam(purpose)
        if jam.action is not None:
            assert (state, jam.action) in TRANSITIONS, (state, purpose)
