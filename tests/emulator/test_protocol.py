"""The emulator against a real Mosquitto and a fake gateway: boot, presence, doors, faults."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from locker_emulator import EmulatorBank, Spec, parse_fault_flag, preset_lockers

from tests.emulator.conftest import make_bank
from tests.emulator.fake_gateway import (
    FakeGateway,
    Seen,
    SpecCheck,
    is_event,
    no_reply,
    read_retained,
)
from tests.support.mosquitto import Mosquitto

OPEN_A01 = {"compartmentCode": "A01", "purpose": "deposit"}


def from_locker(seen: Seen, locker_id: str = "EMU-001") -> bool:
    return seen.message.get("src") == locker_id


def is_status(online: bool) -> object:
    return lambda s: s.topic.endswith("/status") and s.payload.get("online") is online


async def test_boot_gating_pending_is_retried_and_nothing_but_boot_goes_out_before_accepted(
    broker: Mosquitto, spec: Spec, spec_check: SpecCheck
) -> None:
    async with FakeGateway(port=broker.port, boot=["Pending", "Accepted"], check=spec_check) as gw:
        async with make_bank(broker, spec) as bank:
            locker = bank["EMU-001"]
            async with asyncio.timeout(5):
                await locker.wait_until(lambda: locker.boot_status == "Pending")
            locker.enter_code("123456")  # must wait in the buffer until Accepted
            early = await gw.command("EMU-001", "Display", {"message": "Welcome"})
            async with asyncio.timeout(5):
                await locker.wait_booted()
            await gw.wait_for(is_event("CodeEntered"))
            await gw.wait_for(lambda s: s.action == "State")
            retained = await read_retained(broker.port, "olp/v1/EMU-001/state")
            assert retained["action"] == "State"
        assert gw.invalid == []
    sent = [s for s in gw.seen if from_locker(s)]
    boots = [s for s in sent if s.action == "Boot"]
    assert len(boots) == 2
    # SPEC §9: after Pending, heartbeatIntervalSeconds (1 s here) is the least wait.
    assert boots[1].at - boots[0].at >= 0.95
    before_accept = sent[: sent.index(boots[1]) + 1]
    assert {s.action for s in before_accept} == {"Status", "Boot"}
    assert await no_reply(gw, early, seconds=0.1), "a command before Accepted must be dropped"


async def test_rejected_locker_stops_and_reports(
    broker: Mosquitto, spec: Spec, spec_check: SpecCheck
) -> None:
    async with FakeGateway(port=broker.port, boot=["Rejected"], check=spec_check) as gw:
        async with make_bank(broker, spec) as bank:
            locker = bank["EMU-001"]
            async with asyncio.timeout(5):
                await locker.wait_until(
                    lambda: locker.boot_status == "Rejected" and not locker.online
                )
            assert locker.snapshot()["rejectedReason"] == "test says so"
            await asyncio.sleep(0.3)
        assert gw.invalid == []
    assert len(gw.where(lambda s: s.action == "Boot")) == 1
    assert (await read_retained(broker.port, "olp/v1/EMU-001/status"))["payload"]["online"] is False


async def test_retained_status_and_last_will_on_an_abrupt_disconnect(
    bank: EmulatorBank, gateway: FakeGateway, broker: Mosquitto
) -> None:
    locker = bank["EMU-001"]
    birth = await gateway.wait_for(is_status(True))  # type: ignore[arg-type]
    retained = await read_retained(broker.port, "olp/v1/EMU-001/status")
    assert retained["payload"] == birth.payload
    locker.go_offline(0.5)
    will = await gateway.wait_for(is_status(False))  # type: ignore[arg-type]
    # The broker sent the will: same envelope as registered, same session as the birth.
    assert will.payload["sessionId"] == birth.payload["sessionId"]
    assert (await read_retained(broker.port, "olp/v1/EMU-001/status"))["payload"]["online"] is False
    async with asyncio.timeout(5):
        await locker.wait_until(lambda: locker.online and locker.booted)
    again = await read_retained(broker.port, "olp/v1/EMU-001/status")
    assert again["payload"]["online"] is True
    assert again["payload"]["sessionId"] != birth.payload["sessionId"]


async def test_clean_stop_says_offline_itself(
    broker: Mosquitto, spec: Spec, gateway: FakeGateway
) -> None:
    async with make_bank(broker, spec) as bank:
        async with asyncio.timeout(5):
            await bank.wait_all_booted()
    retained = await read_retained(broker.port, "olp/v1/EMU-001/status")
    assert retained["payload"]["online"] is False


@pytest.mark.parametrize("version", ["3.1.1", "5"])
async def test_open_deposit_close_over_both_mqtt_versions(
    broker: Mosquitto, spec: Spec, gateway: FakeGateway, version: str
) -> None:
    async with make_bank(broker, spec, mqtt_version=version) as bank:
        async with asyncio.timeout(5):
            await bank.wait_all_booted()
        boot = gateway.where(lambda s: s.action == "Boot")[0]
        if version == "5":
            assert boot.correlation == boot.message["id"].encode()
            assert boot.response_topic == "olp/v1/EMU-001/res"
            assert boot.expiry is not None
            assert boot.expiry > 0
        else:
            assert boot.correlation is None

        cmd = await gateway.command("EMU-001", "OpenCompartment", OPEN_A01)
        reply = await gateway.reply_to(cmd)
        assert reply.topic == "olp/v1/_gw/test/res/EMU-001"
        assert (reply.kind, reply.action) == ("result", "OpenCompartment")
        assert reply.payload == {"compartmentCode": "A01", "outcome": "Unlocked"}
        if version == "5":
            assert reply.correlation == cmd["id"].encode()
        opened = await gateway.wait_for(is_event("DoorOpened"))
        assert opened.payload == {"compartmentCode": "A01"}
        assert opened.message["seq"] > reply.message["seq"], "the result goes out first"

        bank["EMU-001"].deposit("A01")
        closed = await gateway.wait_for(is_event("DoorClosed"))
        assert closed.payload == {"compartmentCode": "A01", "itemSensor": "present"}

        def a01_full(s: Seen) -> bool:
            if s.action != "State":
                return False
            (a01,) = [c for c in s.payload["compartments"] if c["code"] == "A01"]
            return bool(a01 == {**a01, "door": "closed", "itemSensor": "present"})

        state = await gateway.wait_for(a01_full)
        assert state.topic == "olp/v1/EMU-001/state"
        assert (await read_retained(broker.port, state.topic))["id"] == state.message["id"]
        seqs = [s.message["seq"] for s in gateway.seen if from_locker(s)]
        assert seqs == sorted(seqs)
        assert len(set(seqs)) == len(seqs)


async def test_expired_command_is_dropped_without_reply_or_action(
    bank: EmulatorBank, gateway: FakeGateway
) -> None:
    locker = bank["EMU-001"]
    cmd = await gateway.command("EMU-001", "OpenCompartment", OPEN_A01, exp_seconds=-1)
    assert await no_reply(gateway, cmd)
    assert locker.compartment("A01").door == "closed"
    assert gateway.where(is_event("DoorOpened")) == []
    assert any("after exp" in e.get("note", "") for e in locker.log_entries())


async def test_a_duplicate_command_is_executed_once(
    bank: EmulatorBank, gateway: FakeGateway
) -> None:
    first = await gateway.command("EMU-001", "OpenCompartment", OPEN_A01, message_id="dup-1")
    await gateway.command("EMU-001", "OpenCompartment", OPEN_A01, message_id="dup-1")
    await gateway.reply_to(first)
    # The locker says it dropped the second as a duplicate (its log), and journaled one open.
    locker = bank["EMU-001"]

    def dropped() -> bool:
        return any("duplicate" in e.get("note", "") for e in locker.log_entries())

    async with asyncio.timeout(5):
        await locker.wait_until(dropped)
    await gateway.wait_for(is_event("DoorOpened"))
    assert locker.model.journal.last_seq == 1  # one event: the one DoorOpened
    assert len(gateway.where(lambda s: s.message.get("corr") == "dup-1")) == 1
    assert len(gateway.where(is_event("DoorOpened"))) == 1
    # The same id from another gateway instance is another message.
    await gateway.command(
        "EMU-001", "OpenCompartment", OPEN_A01, message_id="dup-1", src="gw:other"
    )
    locker = bank["EMU-001"]
    async with asyncio.timeout(3):
        await locker.wait_until(
            lambda: any(e["topic"] == "olp/v1/_gw/other/res/EMU-001" for e in locker.log_entries())
        )
    (other,) = [e for e in locker.log_entries() if e["topic"] == "olp/v1/_gw/other/res/EMU-001"]
    assert other["envelope"]["payload"]["outcome"] == "AlreadyOpen"
    assert len(gateway.where(lambda s: s.message.get("corr") == "dup-1")) == 1


async def error_for(gateway: FakeGateway, command: dict[str, object]) -> dict[str, object]:
    reply = await gateway.reply_to(command)
    assert reply.kind == "error", reply.message
    assert reply.topic == "olp/v1/_gw/test/res/EMU-001"
    error: dict[str, object] = reply.message["error"]
    return error


async def test_bad_commands_get_an_error_or_a_log_line_and_the_locker_keeps_working(
    bank: EmulatorBank, gateway: FakeGateway
) -> None:
    locker = bank["EMU-001"]
    topic = "olp/v1/EMU-001/cmd/OpenCompartment"
    await gateway.publish(topic, b"{not json")
    await gateway.publish(topic, b"\xff\xfe")
    # An invalid envelope whose id and src are usable: FormatViolation.
    no_ts = await gateway.command("EMU-001", "OpenCompartment", OPEN_A01, ts="yesterday")
    assert (await error_for(gateway, no_ts))["code"] == "FormatViolation"
    # Larger than 64 KiB.
    huge = await gateway.command("EMU-001", "Display", {"message": "Info", "text": "x" * 70_000})
    error = await error_for(gateway, huge)
    assert error["code"] == "FormatViolation"
    assert "bytes" in str(error["description"])
    # The envelope's action is not the topic's.
    wrong = await gateway.command("EMU-001", "OpenCompartment", OPEN_A01, topic_action="Display")
    assert (await error_for(gateway, wrong))["code"] == "FormatViolation"
    unknown = await gateway.command("EMU-001", "UpdateFirmware", {"version": "2"})
    assert (await error_for(gateway, unknown))["code"] == "NotSupported"
    bad = await gateway.command(
        "EMU-001", "OpenCompartment", {"compartmentCode": "A01", "purpose": "steal"}
    )
    error = await error_for(gateway, bad)
    assert error["code"] == "FormatViolation"
    assert "/payload/purpose" in str(error["details"])
    info = await gateway.command("EMU-001", "Display", {"message": "Info"})
    assert (await error_for(gateway, info))["code"] == "FormatViolation"
    missing = await gateway.command(
        "EMU-001", "OpenCompartment", {"compartmentCode": "Z99", "purpose": "pickup"}
    )
    assert (await error_for(gateway, missing))["code"] == "NotFound"
    # Unanswerable: not from a gateway, or not a call.
    stranger = await gateway.command("EMU-001", "OpenCompartment", OPEN_A01, src="EMU-002")
    event = await gateway.command("EMU-001", "OpenCompartment", OPEN_A01, kind="event")
    assert await no_reply(gateway, stranger, seconds=0.2)
    assert await no_reply(gateway, event, seconds=0.1)
    assert locker.compartment("A01").door == "closed"
    # Still alive and well.
    ok = await gateway.command("EMU-001", "OpenCompartment", OPEN_A01)
    assert (await gateway.reply_to(ok)).payload["outcome"] == "Unlocked"
    notes = " | ".join(e.get("note", "") for e in locker.log_entries())
    assert "not JSON" in notes
    assert "nowhere to reply" in notes


async def test_set_availability_and_display(bank: EmulatorBank, gateway: FakeGateway) -> None:
    locker = bank["EMU-001"]
    off = await gateway.command(
        "EMU-001",
        "SetAvailability",
        {"compartmentCode": "A02", "available": False, "reason": "wet"},
    )
    assert (await gateway.reply_to(off)).payload == {"compartmentCode": "A02", "available": False}
    await gateway.wait_for(
        lambda s: (
            s.action == "State"
            and any(c["code"] == "A02" and not c["enabled"] for c in s.payload["compartments"])
        )
    )
    show = await gateway.command("EMU-001", "Display", {"message": "Info", "text": "Back at 9"})
    assert (await gateway.reply_to(show)).payload == {}
    assert locker.display is not None
    assert (locker.display["message"], locker.display["text"]) == ("Info", "Back at 9")


async def test_slow_replies_delay_the_answer_and_never_act_past_exp(
    bank: EmulatorBank, gateway: FakeGateway
) -> None:
    locker = bank["EMU-001"]
    locker.update_faults({"slow_replies": 0.6})
    started = asyncio.get_running_loop().time()
    cmd = await gateway.command("EMU-001", "OpenCompartment", OPEN_A01)
    reply = await gateway.reply_to(cmd)
    assert reply.at - started >= 0.6
    late = await gateway.command(
        "EMU-001",
        "OpenCompartment",
        {"compartmentCode": "A02", "purpose": "pickup"},
        exp_seconds=0.2,
    )
    assert await no_reply(gateway, late, seconds=1.0)
    assert locker.compartment("A02").door == "closed"


async def test_clock_skew_shifts_every_ts(bank: EmulatorBank, gateway: FakeGateway) -> None:
    bank["EMU-001"].update_faults({"clock_skew": 3600})
    bank["EMU-001"].enter_code("2468", "A03")
    entered = await gateway.wait_for(is_event("CodeEntered"))
    assert entered.payload == {"code": "2468", "compartmentCode": "A03"}
    ts = datetime.fromisoformat(entered.message["ts"])
    assert abs((ts - datetime.now(UTC)).total_seconds() - 3600) < 10


async def test_jammed_stuck_and_lying_compartments(
    bank: EmulatorBank, gateway: FakeGateway
) -> None:
    locker = bank["EMU-001"]
    locker.update_compartment_faults("A01", {"jammed": True})
    locker.update_compartment_faults("A02", {"stuck_lock": True})
    locker.update_compartment_faults("A03", {"lying_sensor": True})

    jam = await gateway.command("EMU-001", "OpenCompartment", OPEN_A01)
    assert (await gateway.reply_to(jam)).payload["outcome"] == "DoorJammed"
    fault = await gateway.wait_for(is_event("Fault"))
    assert fault.payload["fault"] == "DoorJammed"
    assert fault.payload["compartmentCode"] == "A01"

    stuck = await gateway.command(
        "EMU-001", "OpenCompartment", {"compartmentCode": "A02", "purpose": "pickup"}
    )
    assert (await gateway.reply_to(stuck)).payload["outcome"] == "UnlockFailed"
    await gateway.wait_for(lambda s: s.action == "Fault" and s.payload["fault"] == "LockFault")

    liar = await gateway.command(
        "EMU-001", "OpenCompartment", {"compartmentCode": "A03", "purpose": "deposit"}
    )
    assert (await gateway.reply_to(liar)).payload["outcome"] == "Unlocked"
    await gateway.wait_for(is_event("DoorOpened"))
    locker.deposit("A03")
    closed = await gateway.wait_for(is_event("DoorClosed"))
    assert closed.payload == {"compartmentCode": "A03", "itemSensor": "absent"}
    assert locker.compartment("A03").item_inside

    locker.update_compartment_faults("A01", {"jammed": False})
    cleared = await gateway.wait_for(
        lambda s: s.action == "Fault" and s.payload.get("cleared") is True
    )
    assert cleared.payload["fault"] == "DoorJammed"
    assert locker.compartment("A01").door == "closed"


async def test_door_left_open_alarm_over_mqtt(bank: EmulatorBank, gateway: FakeGateway) -> None:
    locker = bank["EMU-001"]
    locker.update_compartment_faults("A01", {"door_left_open": 0.2})
    cmd = await gateway.command("EMU-001", "OpenCompartment", OPEN_A01)
    await gateway.reply_to(cmd)
    locker.leave_open("A01")
    alarm = await gateway.wait_for(
        lambda s: s.action == "Fault" and s.payload["fault"] == "DoorLeftOpen"
    )
    assert not alarm.payload.get("cleared", False)
    locker.close("A01")
    await gateway.wait_for(lambda s: s.action == "Fault" and s.payload.get("cleared") is True)


async def test_events_buffered_while_the_broker_is_down_arrive_in_order_after_restart(
    bank: EmulatorBank, gateway: FakeGateway, broker: Mosquitto
) -> None:
    locker = bank["EMU-001"]
    cmd = await gateway.command("EMU-001", "OpenCompartment", OPEN_A01)
    await gateway.reply_to(cmd)
    await gateway.wait_for(is_event("DoorOpened"))
    broker.stop()
    async with asyncio.timeout(5):
        await locker.wait_until(lambda: not locker.online)
    locker.deposit("A01")
    locker.enter_code("4321")
    assert len(locker.model.outbox) >= 2
    broker.start()
    await gateway.wait_connected()
    async with asyncio.timeout(10):
        await locker.wait_until(lambda: locker.booted and len(locker.model.outbox) == 0)
    closed = await gateway.wait_for(is_event("DoorClosed"))
    code = await gateway.wait_for(is_event("CodeEntered"))
    assert closed.payload["itemSensor"] == "present"
    assert closed.message["seq"] < code.message["seq"]
    second_boot = gateway.where(lambda s: s.action == "Boot")[-1]
    assert second_boot.message["seq"] < closed.message["seq"], "Boot first, then the backlog"
    # The events carry the time they happened, not the time they were delivered.
    assert closed.message["ts"] < second_boot.message["ts"]


async def test_power_loss_is_reported_when_power_returns(
    bank: EmulatorBank, gateway: FakeGateway
) -> None:
    bank["EMU-001"].go_offline(0.3, power_loss=True)
    restored = await gateway.wait_for(
        lambda s: (
            s.action == "Fault"
            and s.payload["fault"] == "PowerLoss"
            and s.payload.get("cleared") is True
        )
    )
    lost = gateway.where(lambda s: s.action == "Fault" and s.payload["fault"] == "PowerLoss")[0]
    assert "compartmentCode" not in lost.payload
    assert lost.message["seq"] < restored.message["seq"]


async def test_heartbeats_and_a_refused_heartbeat_leads_to_a_new_boot(
    broker: Mosquitto, spec: Spec, spec_check: SpecCheck
) -> None:
    async with FakeGateway(port=broker.port, heartbeat_seconds=1, check=spec_check) as gw:
        gw.heartbeat_answer = {"code": "SecurityError", "description": "not accepted"}
        async with make_bank(broker, spec) as bank:
            await gw.wait_for(lambda s: s.action == "Heartbeat", within=5)
            await gw.wait_for(lambda s: len(gw.where(lambda t: t.action == "Boot")) == 2, within=5)
            async with asyncio.timeout(5):
                await bank.wait_all_booted()
        assert gw.invalid == []


async def test_one_slow_or_offline_locker_does_not_block_the_others(
    broker: Mosquitto, spec: Spec, gateway: FakeGateway
) -> None:
    flags = [parse_fault_flag("EMU-002:slow_replies=3"), parse_fault_flag("EMU-003:offline=30")]
    async with make_bank(broker, spec, lockers=preset_lockers(3, "small"), faults=flags) as bank:
        async with asyncio.timeout(5):
            await bank.wait_all_booted()
            await bank["EMU-003"].wait_until(lambda: not bank["EMU-003"].online)
        slow = await gateway.command("EMU-002", "OpenCompartment", OPEN_A01)
        fast = await gateway.command("EMU-001", "OpenCompartment", OPEN_A01)
        started = asyncio.get_running_loop().time()
        reply = await gateway.reply_to(fast)
        assert reply.at - started < 1.0
        assert await no_reply(gateway, slow, seconds=0.3)
        assert not bank["EMU-003"].online
