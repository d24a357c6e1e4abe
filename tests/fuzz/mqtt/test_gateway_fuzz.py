"""Fuzzing a running gateway over a real Mosquitto (issue 12, fuzzing, MQTT half).

The whole site of tests/e2e (gateway on SQLite, the OLP adapter, the locker side, the emulated
locker); hypothesis draws what a broken or hostile locker publishes — on its own topics, as an
unknown locker, with a forged `src`, as a reply to the gateway, replayed — and each example is
published through the broker. Properties, per example: a call with a readable id is answered
(an OLP error, or a Boot refused), anything else is a counted drop (`OlpStats.dropped`); the
MQTT session never restarts, no lane handler fails, nothing is logged as an error. After all
of it the real locker still completes a deposit: no parcel is lost. About 20 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiomqtt
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from adapters.olp import OlpAdapter
from gateway.clock import utc_now
from gateway.sdk.errors import OpenLockerError
from gateway.sdk.lifetime import background
from gateway.sdk.mqtt import topics
from gateway.sdk.olp import OlpCodec
from gateway.sdk.olp_messages import StatusEvent, UnknownMessage
from tests.e2e.conftest import LOCKER, Site
from tests.fuzz import figures
from tests.fuzz.strategies import (
    JSON_SAFE_MAX,
    LOCKER_CALLS,
    LOCKER_EVENTS,
    LOCKER_REPLIES,
    SEEDS,
    bad_locker_bytes,
    encoded,
    examples,
    hostile,
)
from tests.holes.test_olp_edge import still_works

UNKNOWN = "FUZZ-UNKNOWN-01"
CODEC = OlpCodec.load()
WAIT_S = 5.0


@dataclass
class Attacker:
    """A test MQTT client: publishes as any locker, collects every reply to lockers."""

    site: Site
    client: aiomqtt.Client
    replies: dict[str, dict[str, Any]] = field(default_factory=dict)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def adapter(self) -> OlpAdapter:
        adapter = self.site.gateway.adapters.running["olp"]
        assert isinstance(adapter, OlpAdapter)
        return adapter

    async def listen(self) -> None:
        async for message in self.client.messages:
            try:
                raw = message.payload if isinstance(message.payload, bytes) else b""
                reply = json.loads(raw)
            except ValueError:
                continue
            if isinstance(reply, dict) and isinstance(reply.get("corr"), str):
                self.replies[reply["corr"]] = reply
                self.arrived.set()

    async def send(self, topic: str, raw: bytes, expect: str) -> str:
        """Publish and wait for the gateway's observable answer, `expect`ed as one of:
        "reply" (to the call's id), "drop" (a drop counted) or "handled" (the lane's item
        worked off). Returns "reply" or the drop reasons that grew (or "handled")."""
        call_id = CODEC.call_id(raw) if expect == "reply" else None
        if call_id is not None:
            self.replies.pop(call_id, None)
        stats = self.adapter.stats()
        handled, before = stats.handled, dict(stats.dropped)
        await self.client.publish(topic, raw, qos=1)
        async with asyncio.timeout(WAIT_S):
            while True:
                stats = self.adapter.stats()
                grown = [k for k, n in stats.dropped.items() if n > before.get(k, 0)]
                if expect == "reply" and call_id in self.replies:
                    return "reply"
                if expect == "drop" and grown:
                    return ",".join(grown)
                if expect == "handled" and stats.handled > handled:
                    return "handled"
                self.arrived.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.arrived.wait(), 0.02)


@pytest.fixture
async def attacker(site: Site) -> AsyncIterator[Attacker]:
    async with aiomqtt.Client("127.0.0.1", site.broker.port, identifier="fuzzer") as client:
        await client.subscribe("olp/v1/+/res", qos=1)
        attack = Attacker(site, client)
        async with background(attack.listen(), "fuzz-replies"):
            yield attack


def no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    worse = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not worse, [(r.name, r.getMessage()) for r in worse[:5]]


def message(seed_kind: str, /, **changes: Any) -> dict[str, Any]:
    """The first seed of `seed_kind`, fresh id and time, with `changes`."""
    base: dict[str, Any] = json.loads(json.dumps(SEEDS[seed_kind][0]))
    base.update(id=str(uuid.uuid4()), ts=datetime.now(UTC).isoformat().replace("+00:00", "Z"))
    base.update(changes)
    return base


def _on(channel: Callable[[str, str], str], action: str) -> Callable[[str], str]:
    return lambda locker_id: channel(locker_id, action)


# Which topic each kind of message goes to, given the publishing locker's id.
CHANNELS: dict[str, Callable[[str], str]] = {
    "boot": _on(topics.request, "Boot"),
    "heartbeat": _on(topics.request, "Heartbeat"),
    "door-opened": _on(topics.event, "DoorOpened"),
    "door-closed": _on(topics.event, "DoorClosed"),
    "code-entered": _on(topics.event, "CodeEntered"),
    "fault": _on(topics.event, "Fault"),
    "status": topics.status,
}


async def test_whatever_a_locker_publishes_is_answered_or_counted(
    site: Site, attacker: Attacker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    loop = asyncio.get_running_loop()
    connects = attacker.adapter._connection.connect_count  # type: ignore[union-attr]
    reply_topic = topics.gateway_reply(site.gateway.settings.instance, LOCKER)
    seen: dict[str, int] = {}
    published: set[tuple[str, str]] = set()  # (src, id) the adapter's dedupe has seen

    def run(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(WAIT_S * 2)

    @settings(
        max_examples=examples(60),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        kind=st.sampled_from(sorted(CHANNELS)),
        sender=st.sampled_from([LOCKER, UNKNOWN]),
        bad=st.data(),
    )
    def attack(kind: str, sender: str, bad: st.DataObject) -> None:
        # Half broken, half valid with a hostile twist (one_of would weigh them 4:1).
        broken = bad.draw(st.booleans())
        _, raw = bad.draw(bad_locker_bytes((kind,), sender) if broken else hostile((kind,), sender))
        expect = expectation(kind, sender, raw)
        key = deduped(kind, sender, raw)
        if key is not None and key in published:
            expect = "drop"  # hypothesis repeats ids: a repeat is a (counted) duplicate
        if sender == LOCKER:
            # The real locker's own valid messages (an offline Status, a Boot with another
            # layout) would change what it legitimately is; what it must survive is garbage
            # and forgery (valid ones with hostile numbers: see the explicit tests below).
            assume(not own_valid(raw))
        try:
            outcome = run(attacker.send(CHANNELS[kind](sender), raw, expect))
        except TimeoutError:
            stats = attacker.adapter.stats()
            raise AssertionError(
                f"no {expect} within {WAIT_S} s for {kind} from {sender}: {raw[:300]!r} "
                f"(dropped {stats.dropped}, handled {stats.handled})"
            ) from None
        seen[outcome] = seen.get(outcome, 0) + 1
        if key is not None:
            published.add(key)
        figures.count("mqtt-e2e: messages published", kind)
        figures.count("mqtt-e2e: outcome", outcome)

    await asyncio.to_thread(attack)
    # And replies to the gateway's own calls, broken or forged, on its reply topic.
    for kind in LOCKER_REPLIES:
        for forged in (message(kind, src="gw:gw-1"), message(kind, src=UNKNOWN), message(kind)):
            outcome = await attacker.send(reply_topic, encoded(forged), "drop")
            assert outcome in ("bad-reply", "forged-reply", "unknown-reply"), (kind, outcome)

    stats = attacker.adapter.stats()
    figures.merge("mqtt-e2e: drops counted by reason", stats.dropped)
    reconnects = attacker.adapter._connection.connect_count - connects  # type: ignore[union-attr]
    figures.count("mqtt-e2e: crashes", "lane handler errors", stats.lanes.handler_errors)
    figures.count("mqtt-e2e: crashes", "session restarts", reconnects)
    assert reconnects == 0
    assert stats.lanes.handler_errors == 0
    no_errors_logged(caplog)
    await still_works(site, "FUZZ-AFTER")
    figures.count("mqtt-e2e: lifecycles after the attack", "deposit completed")
    async with site.gateway.store.transaction() as tx:
        assert await tx.parked_events.page() == []
    assert sum(seen.values()) >= 1, seen


def own_valid(raw: bytes) -> bool:
    """Whether `raw` is a valid message of the real locker, in an action OLP defines."""
    try:
        decoded = CODEC.decode_message(raw)
    except OpenLockerError:
        return False
    return decoded.src == LOCKER and not isinstance(decoded, UnknownMessage)


def deduped(kind: str, sender: str, raw: bytes) -> tuple[str, str] | None:
    """The (src, id) the adapter remembers for `raw`, if it reaches the dedupe at all (valid,
    from the topic's locker, not a journaled event: those are deduped on eventSeq)."""
    try:
        decoded = CODEC.decode_message(raw)
    except OpenLockerError:
        return None
    if decoded.src != sender or (kind in LOCKER_EVENTS and decoded.event_seq is not None):
        return None
    return decoded.src, decoded.id


def expectation(kind: str, sender: str, raw: bytes) -> str:
    """What the gateway must do with `raw` from `sender` on the topic of `kind`."""
    try:
        decoded = CODEC.decode_message(raw)
    except OpenLockerError:
        decoded = None
    is_call = kind in LOCKER_CALLS
    if is_call and CODEC.call_id(raw) is not None:
        expired = decoded is not None and decoded.exp is not None and decoded.exp < utc_now()
        return "drop" if expired else "reply"
    if decoded is None or decoded.src != sender or is_call:
        return "drop"
    if kind == "status" and isinstance(decoded, StatusEvent):
        return "handled"  # a valid Status of its own locker: presence, known locker or not
    # An event of a locker that has not booted, an event OLP lacks, a non-Status on status.
    return "drop"


async def test_a_reply_whose_kind_is_a_list_is_counted_not_a_reconnect(
    site: Site, attacker: Attacker, caplog: pytest.LogCaptureFixture
) -> None:
    """Found by the fuzzer: the codec's set lookup raised TypeError on an unhashable `kind`,
    which escaped the receive callback and made the gateway drop its MQTT session (every
    locker's messages in flight with it) and reconnect."""
    caplog.set_level(logging.WARNING)
    connects = attacker.adapter._connection.connect_count  # type: ignore[union-attr]
    reply_topic = topics.gateway_reply(site.gateway.settings.instance, LOCKER)
    unhashable: tuple[Any, ...] = ([], {})
    for kind in unhashable:
        raw = encoded(message("open-compartment-result", src=LOCKER, kind=kind))
        assert await attacker.send(reply_topic, raw, "drop") == "bad-reply"
    status = encoded(message("status", src=LOCKER, kind=[]))
    assert await attacker.send(topics.status(LOCKER), status, "drop") == "format-violation"
    # Not a call (its kind is not "call"): nothing to answer, a counted drop.
    boot = encoded(message("boot", src=LOCKER, kind={}))
    assert await attacker.send(topics.request(LOCKER, "Boot"), boot, "drop") == "format-violation"
    assert attacker.adapter._connection.connect_count == connects  # type: ignore[union-attr]
    no_errors_logged(caplog)
    await still_works(site, "FUZZ-KIND")


async def test_forged_src_and_replayed_ids_are_refused_and_counted(
    site: Site, attacker: Attacker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    # As the gateway: the schema of a locker's message allows no `gw:` src (FormatViolation);
    # as another locker, known or not: the topic's locker is not the sender (SecurityError).
    for src, code, reason in (
        ("gw:gw-1", "FormatViolation", "format-violation"),
        ("WAW-OTHER-01", "SecurityError", "forged-src"),
        (UNKNOWN, "SecurityError", "forged-src"),
    ):
        call = message("heartbeat", src=src)
        heartbeat = topics.request(LOCKER, "Heartbeat")
        assert await attacker.send(heartbeat, encoded(call), "reply") == "reply"
        assert attacker.replies[call["id"]]["error"]["code"] == code
        event = message("door-closed", src=src)
        closed = topics.event(LOCKER, "DoorClosed")
        assert await attacker.send(closed, encoded(event), "drop") == reason
    # A locker the network does not know: its Boot is refused, its other calls wait for a
    # Boot, its events are dropped (counted) until then; an expired call is dropped.
    boot = message("boot", src=UNKNOWN)
    assert await attacker.send(topics.request(UNKNOWN, "Boot"), encoded(boot), "reply") == "reply"
    assert attacker.replies[boot["id"]]["payload"]["status"] != "Accepted"
    waiting = message("heartbeat", src=UNKNOWN)
    assert await attacker.send(topics.request(UNKNOWN, "Heartbeat"), encoded(waiting), "reply")
    assert attacker.replies[waiting["id"]]["error"]["code"] == "SecurityError"
    closed_raw = encoded(message("door-closed", src=UNKNOWN))
    unknown_closed = topics.event(UNKNOWN, "DoorClosed")
    assert await attacker.send(unknown_closed, closed_raw, "drop") == "not-booted"
    # Found by the fuzzer: its Status broke the session row's foreign key, and every report
    # was parked as a failure with a traceback. Now ignored, counted by the presence service.
    presence = site.gateway.locker_side.pipeline._presence
    for online in (True, False):
        status = encoded(message("status", src=UNKNOWN, payload={"online": online}))
        assert await attacker.send(topics.status(UNKNOWN), status, "handled") == "handled"
    assert presence.unknown_lockers == 2
    async with site.gateway.store.transaction() as tx:
        assert await tx.parked_events.page() == []
    late = encoded(message("heartbeat", src=LOCKER, exp="2001-01-01T00:00:00Z"))
    assert await attacker.send(topics.request(LOCKER, "Heartbeat"), late, "drop") == "expired-call"
    # A Heartbeat of the real locker, then the same message again (a replayed id): answered
    # once, then a counted duplicate without a reply.
    beat = encoded(message("heartbeat", src=LOCKER, seq=10**6))
    heartbeat = topics.request(LOCKER, "Heartbeat")
    assert await attacker.send(heartbeat, beat, "reply") == "reply"
    assert await attacker.send(heartbeat, beat, "drop") == "duplicate"
    no_errors_logged(caplog)
    await still_works(site, "FUZZ-FORGED")


async def test_far_ahead_and_old_event_numbers_lose_no_parcel(
    site: Site, attacker: Attacker, caplog: pytest.LogCaptureFixture
) -> None:
    """The locker's own topic, valid events with hostile numbers: one far ahead (the schema's
    maximum) is a gap, never applied (applied, it would move the processed mark past every
    later real event, which would then all be dropped as duplicates); an old number is a
    counted duplicate. The real locker's next deposit is applied all the same."""
    caplog.set_level(logging.WARNING)
    pipeline = site.gateway.locker_side.pipeline
    await still_works(site, "FUZZ-BEFORE")  # the locker's journal holds events now
    assert await site.processed() >= 1
    duplicates = pipeline.counts.duplicates
    old = message("door-opened", src=LOCKER, eventSeq=1)
    old["payload"] = {"compartmentCode": "S01"}
    assert await attacker.send(topics.event(LOCKER, "DoorOpened"), encoded(old), "handled")
    assert pipeline.counts.duplicates == duplicates + 1
    ahead = message("door-opened", src=LOCKER, seq=JSON_SAFE_MAX, eventSeq=JSON_SAFE_MAX)
    ahead["payload"] = {"compartmentCode": "S01"}
    await attacker.client.publish(topics.event(LOCKER, "DoorOpened"), encoded(ahead), qos=1)
    await still_works(site, "FUZZ-AHEAD")
    assert await site.processed() < JSON_SAFE_MAX
    no_errors_logged(caplog)
