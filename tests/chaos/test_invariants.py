"""Each chaos invariant passes a sound record and fails a violating one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.chaos import invariants as inv

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def row(pid: str, state: str, code: str | None = "C01") -> inv.ParcelRow:
    return inv.ParcelRow(parcel_id=pid, state=state, locker_id="L1", compartment_code=code)


def opened(code: str, purpose: str, *, at: float = 0, exp: float | None = 5) -> inv.PhysicalOpen:
    return inv.PhysicalOpen(
        locker_id="L1",
        compartment_code=code,
        purpose=purpose,
        at=T0 + timedelta(seconds=at),
        via=f"command c{at}",
        exp=None if exp is None else T0 + timedelta(seconds=exp),
    )


def test_lost_or_stuck() -> None:
    done = inv.Outcome(parcel_id="P1", booked=True, completed=True)
    assert inv.lost_or_stuck([done], {"P1": [row("P1", "picked_up")]}) == []
    assert [v.check for v in inv.lost_or_stuck([done], {})] == ["lost"]
    assert [v.check for v in inv.lost_or_stuck([done], {"P1": [row("P1", "reserved")]})] == ["lost"]
    half = inv.Outcome(parcel_id="P2", booked=True, completed=False)
    assert [
        v.check for v in inv.lost_or_stuck([half], {"P2": [row("P2", "ready_for_pickup")]})
    ] == ["stuck"]
    explained = inv.Outcome(parcel_id="P2", booked=True, completed=False, reason="DoorJammed")
    assert inv.lost_or_stuck([explained], {"P2": [row("P2", "ready_for_pickup")]}) == []
    refused = inv.Outcome(parcel_id="P3", booked=False, completed=False)
    assert [v.check for v in inv.lost_or_stuck([refused], {"P3": [row("P3", "reserved")]})] == [
        "stuck"
    ]


def test_duplicate_parcels() -> None:
    same = [inv.Answer(key="k", status=201, body="{}"), inv.Answer(key="k", status=201, body="{}")]
    assert inv.duplicate_parcels({"P1": [row("P1", "reserved")]}, same) == []
    twice = {"P1": [row("P1", "reserved"), row("P1", "reserved", "C02")]}
    assert [v.check for v in inv.duplicate_parcels(twice, [])] == ["duplicate"]
    differ = [*same, inv.Answer(key="k", status=409, body='{"code":"ParcelExists"}')]
    assert [v.check for v in inv.duplicate_parcels({}, differ)] == ["idempotency"]


def test_a_changed_answer_is_reported_with_both_bodies_and_what_differs() -> None:
    first = '{"compartmentCode": "C001", "createdAt": "12:00:00", "parcelId": "P1"}'
    again = '{"compartmentCode": "C004", "createdAt": "12:00:07", "parcelId": "P1"}'
    answers = [
        inv.Answer(key="book-P1", status=201, body=first, via="gw-1 at 12:00:00"),
        inv.Answer(key="book-P1", status=201, body=again, via="gw-2 at 12:00:08"),
    ]
    [violation] = inv.duplicate_parcels({}, answers)
    assert first in violation.message
    assert again in violation.message
    assert "differing in ['compartmentCode', 'createdAt']" in violation.message
    assert "gw-1 at 12:00:00" in violation.message
    assert "gw-2 at 12:00:08" in violation.message


def test_double_opens() -> None:
    holdings = [
        inv.Holding(parcel_id="P1", locker_id="L1", compartment_code="C01", since=T0),
        # C01 given to P2 after P1 left it: P2's opens are P2's, not a second one of P1's.
        inv.Holding(parcel_id="P2", locker_id="L1", compartment_code="C01", since=T0 + H),
    ]
    once = [opened("C01", "deposit"), opened("C01", "pickup", at=9)]
    nxt = [opened("C01", "deposit", at=3601), opened("C01", "pickup", at=3609)]
    assert inv.double_opens(once + nxt, holdings) == []
    again = [*once, opened("C01", "pickup", at=12)]
    found = inv.double_opens(again, holdings)
    assert [(v.check, v.subject) for v in found] == [("double-open", "P1")]
    assert [v.check for v in inv.double_opens([opened("C09", "deposit")], holdings)] == [
        "stray-open"
    ]
    early = [opened("C01", "deposit", at=-1)]  # before anyone held it
    assert [v.check for v in inv.double_opens(early, holdings)] == ["stray-open"]


def test_late_opens() -> None:
    assert (
        inv.late_opens([opened("C01", "deposit", at=1, exp=5), opened("C01", "x", exp=None)]) == []
    )
    late = inv.late_opens([opened("C01", "deposit", at=6, exp=5)])
    assert [v.check for v in late] == ["late-open"]


def test_webhooks_in_order() -> None:
    events = {"P1": [1, 2, 3]}
    fine = [inv.Delivery(parcel_id="P1", seq=s) for s in (1, 2, 2, 3, 1)]
    assert inv.webhooks_in_order(events, fine) == []
    lost = [inv.Delivery(parcel_id="P1", seq=s) for s in (1, 3)]
    assert [v.check for v in inv.webhooks_in_order(events, lost)] == ["webhook-lost"]
    swapped = [inv.Delivery(parcel_id="P1", seq=s) for s in (2, 1, 3)]
    assert [v.check for v in inv.webhooks_in_order(events, swapped)] == ["webhook-order"]


def test_audit_chain() -> None:
    assert inv.audit_chain(None) == []
    assert [v.check for v in inv.audit_chain("hash mismatch at 7")] == ["audit"]
