"""Small pure pieces: fault flags, layouts, envelopes, the schema loader, back-off, broker URLs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from locker_emulator import Spec, SpecError
from locker_emulator.faults import (
    FaultError,
    FaultFlag,
    LockerFaults,
    Outage,
    parse_fault_flag,
    update_compartment_faults,
    update_locker_faults,
)
from locker_emulator.layout import LayoutError, LockerConfig, load_layout, preset_lockers
from locker_emulator.locker_state import Outbox, Outgoing
from locker_emulator.messages import (
    Display,
    DisplayMessage,
    Kind,
    OpenCompartment,
    PayloadError,
    Purpose,
    envelope,
    format_ts,
    gateway_instance,
    parse_command,
)
from locker_emulator.physics import CompartmentFaults
from locker_emulator.spec import message_schema_name, payload_schema_name
from locker_emulator.transport import Backoff, BrokerAddress

SPEC_DIR = Path(__file__).resolve().parents[2] / "schemas" / "v1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("EMU-001:offline", FaultFlag("EMU-001", None, "offline", 10.0)),
        ("EMU-001:power_loss=3", FaultFlag("EMU-001", None, "power_loss", 3.0)),
        ("EMU-001:slow_replies=2.5", FaultFlag("EMU-001", None, "slow_replies", 2.5)),
        ("EMU-001:clock_skew=-30", FaultFlag("EMU-001", None, "clock_skew", -30.0)),
        ("EMU-001/A01:jammed", FaultFlag("EMU-001", "A01", "jammed", True)),
        ("EMU-001/A01:lying_sensor=false", FaultFlag("EMU-001", "A01", "lying_sensor", False)),
        ("EMU-001/B2:door_left_open=30", FaultFlag("EMU-001", "B2", "door_left_open", 30.0)),
    ],
)
def test_fault_flags(text: str, expected: FaultFlag) -> None:
    assert parse_fault_flag(text) == expected


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("EMU-001", "expected LOCKER"),
        ("EMU-001:jammed", "no locker fault"),
        ("EMU-001/A1:offline", "no compartment fault"),
        ("EMU-001:slow_replies", "needs a value"),
        ("EMU-001:slow_replies=fast", "number of seconds"),
        ("EMU-001/A1:jammed=maybe", "true or false"),
    ],
)
def test_bad_fault_flags(text: str, needle: str) -> None:
    with pytest.raises(FaultError, match=needle):
        parse_fault_flag(text)


def test_fault_updates_keep_what_is_not_named() -> None:
    faults, outage = update_locker_faults(LockerFaults(slow_replies=2), {"clock_skew": 5})
    assert faults == LockerFaults(slow_replies=2, clock_skew=5)
    assert outage is None
    _, outage = update_locker_faults(faults, {"power_loss": 4})
    assert outage == Outage(seconds=4, power_loss=True)
    comp = update_compartment_faults(CompartmentFaults(jammed=True), {"door_left_open": 3})
    assert comp == CompartmentFaults(jammed=True, door_left_open=3.0)
    assert update_compartment_faults(comp, {"door_left_open": None}).door_left_open is None
    with pytest.raises(FaultError, match="number"):
        update_locker_faults(faults, {"clock_skew": float("nan")})


def test_presets_and_layout_files(tmp_path: Path) -> None:
    (small,) = preset_lockers(1, "small")
    assert small.locker_id == "EMU-001"
    assert [(c.code, c.size_class) for c in small.compartments] == [
        ("A01", "S"),
        ("A02", "M"),
        ("A03", "L"),
    ]
    standard = preset_lockers(12, "standard", id_prefix="WAW")
    assert standard[-1].locker_id == "WAW-012"
    assert len(standard[0].compartments) == 13
    layout = tmp_path / "bank.json"
    layout.write_text(
        json.dumps({"lockers": [{"id": "X1", "preset": "small", "features": ["keypad"]}]})
    )
    (x1,) = load_layout(layout)
    assert x1.features == ("keypad",)
    assert len(x1.compartments) == 3


@pytest.mark.parametrize(
    ("document", "needle"),
    [
        ("lockers: 3", "lockers` list"),
        ("lockers: [{id: 'bad id'}]", "not a valid OLP LockerId"),
        ("lockers: [{id: A}, {id: A}]", "unique"),
        ("lockers: [{id: A, preset: huge}]", "unknown preset"),
        ("lockers: [{id: A, colour: red}]", "unknown member"),
        ("lockers: [{id: A, compartments: [{code: '1', sizeClass: XXL}]}]", "size class"),
        ("lockers: [{id: A, compartments: [{code: '1', sizeClass: S}, {code: '1'}]}]", "duplicate"),
        (
            "lockers: [{id: A, compartments: [{code: '1', sizeClass: S, insideMm: {width: 1}}]}]",
            "insideMm",
        ),
        ("lockers: [{id: A, compartments: []}]", "no compartments"),
        ("lockers: [", "cannot read layout"),
    ],
)
def test_bad_layouts(tmp_path: Path, document: str, needle: str) -> None:
    path = tmp_path / "layout.yaml"
    path.write_text(document)
    with pytest.raises(LayoutError, match=needle):
        load_layout(path)


def test_commands_are_checked_even_without_payload_schemas() -> None:
    assert parse_command("OpenCompartment", {"compartmentCode": "A1", "purpose": "collect"}) == (
        OpenCompartment("A1", Purpose.COLLECT)
    )
    assert parse_command("Display", {"message": "Welcome"}) == Display(DisplayMessage.WELCOME, None)
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("OpenCompartment", {"compartmentCode": "A1"}, "missing"),
        ("OpenCompartment", {"compartmentCode": "A1", "purpose": "x"}, "purpose"),
        ("OpenCompartment", {"compartmentCode": "A1\n", "purpose": "pickup"}, "compartment code"),
        ("OpenCompartment", {"compartmentCode": "A1", "purpose": "pickup", "x": 1}, "unknown"),
        ("SetAvailability", {"compartmentCode": "A1", "available": "no"}, "true or false"),
        ("Display", {"message": "Info"}, "needs a text"),
        ("Reboot", {}, "unknown command"),
    ]
    for action, payload, needle in cases:
        with pytest.raises(PayloadError, match=needle):
            parse_command(action, payload)


def test_gateway_sources() -> None:
    assert gateway_instance("gw:eu-1") == "eu-1"
    for bad in ("gw-1", "gw:", "gw:a/b", "gw:+", "EMU-001", None, 7, "gw:x\n"):
        assert gateway_instance(bad) is None


def test_timestamps_are_utc_with_z_and_milliseconds() -> None:
    assert (
        format_ts(datetime(2025, 3, 14, 9, 26, 53, 120999, tzinfo=UTC))
        == "2025-03-14T09:26:53.120Z"
    )


def test_the_emulator_spec_checks_whole_messages() -> None:
    spec = Spec.load(SPEC_DIR)
    assert "olp-message-open-compartment.json" in spec.schema_files
    assert (
        message_schema_name("result", "OpenCompartment")
        == "olp-message-open-compartment-result.json"
    )
    assert message_schema_name("error", "Boot") == "olp-message-error.json"
    assert payload_schema_name("call", "SetAvailability") == "olp-set-availability.json"
    good = envelope(
        kind=Kind.EVENT,
        action="DoorClosed",
        src="EMU-001",
        ts=datetime.now(UTC),
        payload={"compartmentCode": "A01", "itemSensor": "present"},
    )
    assert spec.message_problems({**good, "seq": 0}) == []
    bad = {**good, "seq": 0, "payload": {"compartmentCode": "A01\n", "itemSensor": "present"}}
    assert any("/payload/compartmentCode" in p for p in spec.message_problems(bad))
    assert spec.message_problems({**good, "seq": -1})
    # An action the spec does not know is checked as an envelope only.
    assert spec.message_problems({**good, "seq": 0, "action": "Unknown"}) == []
    for example in sorted((SPEC_DIR / "examples" / "envelope").glob("*.json")):
        assert spec.envelope_problems(json.loads(example.read_text())) == [], example
    for example in sorted((SPEC_DIR / "examples-invalid" / "envelope").glob("*.json")):
        assert spec.envelope_problems(json.loads(example.read_text())), example


def test_a_missing_spec_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"envelope\.json"):
        Spec.load(tmp_path)


def test_backoff_is_jittered_exponential_and_capped() -> None:
    backoff = Backoff(initial=1.0, maximum=8.0)
    delays = [backoff.next_delay() for _ in range(8)]
    for delay, ceiling in zip(delays, [1, 2, 4, 8, 8, 8, 8, 8], strict=True):
        assert ceiling / 2 <= delay <= ceiling
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_broker_urls() -> None:
    assert BrokerAddress.parse("mqtt://10.0.0.1") == BrokerAddress("10.0.0.1", 1883)
    assert BrokerAddress.parse("mqtts://b.example:9000") == BrokerAddress("b.example", 9000, True)
    for bad in ("http://x", "mqtt://", "mqtt://h:port"):
        with pytest.raises(ValueError, match="broker URL"):
            BrokerAddress.parse(bad)


async def test_the_outbox_keeps_order_and_only_the_newest_unsent_state() -> None:
    box = Outbox(limit=4)
    box.put(Outgoing("s", {"n": 0}, snapshot=True))  # the head: maybe in flight, never replaced
    box.put(Outgoing("e", {"n": 1}))
    box.put(Outgoing("s", {"n": 2}, snapshot=True))
    box.put(Outgoing("s", {"n": 3}, snapshot=True))
    assert [i.body["n"] for i in box] == [0, 1, 3]
    box.put(Outgoing("e", {"n": 4}))
    box.put(Outgoing("e", {"n": 5}))
    assert [i.body["n"] for i in box] == [0, 3, 4, 5]
    assert box.dropped == 1
    await box.wait()
    box.pop_head()
    head = box.head()
    assert head is not None
    assert head.body["n"] == 3


def test_locker_config_checks_its_compartments() -> None:
    with pytest.raises(LayoutError, match="bad compartment code"):
        LockerConfig("L1", (preset_lockers(1, "small")[0].compartments[0].__class__("a b", "S"),))
