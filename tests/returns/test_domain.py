"""The return's pure parts: its id, and a state for every state its parcel can reach."""

from __future__ import annotations

from gateway.domain.enums import ParcelState
from gateway.domain.parcel import FIRST_MILE_TRANSITIONS, TRANSITIONS
from gateway.domain.returns import (
    LABEL_BINDABLE,
    RETURN_ID_PATTERN,
    ReturnState,
    new_return_id,
    return_state,
)
from gateway.domain.s10 import looks_like_s10


def _first_mile_reachable() -> set[ParcelState]:
    table = TRANSITIONS | FIRST_MILE_TRANSITIONS
    seen, todo = set(), [ParcelState.DROPOFF_ANNOUNCED]
    while todo:
        state = todo.pop()
        if state in seen:
            continue
        seen.add(state)
        todo.extend(target for (source, _), (target, _) in table.items() if source is state)
    return seen


def test_every_state_a_return_s_parcel_reaches_has_a_return_state() -> None:
    reachable = _first_mile_reachable()
    assert ParcelState.DROPPED_OFF in reachable
    for state in reachable:
        assert isinstance(return_state(state), ReturnState), state
    assert return_state(ParcelState.DROPOFF_ANNOUNCED) is ReturnState.AWAITING_DROPOFF
    assert return_state(ParcelState.RESERVATION_EXPIRED) is ReturnState.EXPIRED
    assert reachable >= LABEL_BINDABLE


def test_return_ids_fit_parcel_ids_and_never_look_like_s10() -> None:
    ids = {new_return_id() for _ in range(200)}
    assert len(ids) == 200
    for rid in ids:
        assert RETURN_ID_PATTERN.fullmatch(rid), rid
        assert not looks_like_s10(rid)
        assert len(rid) <= 64
