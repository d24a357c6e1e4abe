"""The evidence a violation prints: which parcel it is about, and the witnesses' lines of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.chaos import evidence
from tests.chaos import invariants as inv

T0 = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)
KNOWN = ["CARRIER-1-00020", "CARRIER-1-00206", "CARRIER-1-0020"]


def test_the_parcel_a_violation_is_about() -> None:
    stuck = inv.Violation("stuck", "CARRIER-1-00206", "left in reserved with no reason")
    assert evidence.parcel_of(stuck, KNOWN) == "CARRIER-1-00206"
    changed = inv.Violation("idempotency", "book-CARRIER-1-00206", "2 different answers")
    assert evidence.parcel_of(changed, KNOWN) == "CARRIER-1-00206"  # the longest id inside
    late = inv.Violation("late-open", "CHAOS-01/C003", "opened after its exp")
    assert evidence.parcel_of(late, KNOWN) is None  # about a door, not a parcel


def test_log_lines_naming_the_parcel_from_a_minute_before_its_booking_in_time_order(
    tmp_path: Path,
) -> None:
    def line(at: datetime, message: str) -> str:
        stamp = f"{at:%Y-%m-%dT%H:%M:%S.%f}"[:-3] + "Z"  # as the gateways write it
        return f'{{"ts": "{stamp}", "message": "{message}"}}\n'

    (tmp_path / "gw-1-1.log").write_text(
        line(T0 - timedelta(minutes=5), "POST /v1/parcels/P-1 201")  # an older parcel's
        + line(T0 + timedelta(seconds=9), "locker L1: keypad entry e1 typed 20 s ago")
        + line(T0 + timedelta(seconds=3), "unrelated")
    )
    (tmp_path / "gw-2-1.log").write_text(line(T0 + timedelta(seconds=2), "GET /v1/parcels/P-1"))
    found = evidence.from_logs(
        sorted(tmp_path.glob("*.log")), ["P-1", "locker L1: keypad"], since=T0
    )
    assert [text.split(": ", 1)[0] for text in found] == ["gw-2-1.log", "gw-1-1.log"]
    assert "GET /v1/parcels/P-1" in found[0]
    assert "typed 20 s ago" in found[1]


def test_faults_and_opens_while_the_parcel_held_its_door() -> None:
    timeline = [
        (T0 - timedelta(minutes=2), "postgres restart"),
        (T0 + timedelta(seconds=5), "gateway SIGKILL gw-2"),
    ]
    assert evidence.faults_during(timeline, T0) == ["fault 15:00:05.000000 gateway SIGKILL gw-2"]
    opens = [
        inv.PhysicalOpen(
            locker_id="L1", compartment_code="C1", purpose="deposit", at=T0 + delta, via="grant j"
        )
        for delta in (-timedelta(seconds=30), timedelta(seconds=4))
    ]
    assert evidence.from_hardware(opens, "L1", "C1", T0) == [
        "physical open C1 deposit at 15:00:04.000000 via grant j"
    ]
