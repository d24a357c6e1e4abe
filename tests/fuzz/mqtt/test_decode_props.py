"""Properties of the OLP edge for whatever a locker publishes (issue 12, fuzzing, MQTT half).

Decode level, many examples, no broker: the codec, the topic parser, the error reply the
adapter answers with, the State snapshots and the event mapping. Every input either decodes
into a typed message that maps to an SDK event without error, or is refused with one of the
two errors the adapter turns into a FormatViolation reply or a counted drop; never anything
else (a crash of the locker's lane, a traceback in the log).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from adapters.olp.mapping import boot_info, event_from
from adapters.olp.snapshots import StateSnapshots
from gateway.errors import MalformedMessage, ValidationFailed
from gateway.sdk.errors import ErrorCode, OpenLockerError
from gateway.sdk.mqtt import topics
from gateway.sdk.olp import OlpCodec
from gateway.sdk.olp_messages import BootCall, ErrorReply, OlpMessage, UnknownMessage
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
)

CODEC = OlpCodec.load()
FAST = settings(
    max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
ALL_KINDS = (*LOCKER_CALLS, *LOCKER_EVENTS, "status", "state", *LOCKER_REPLIES)


def decode_or_refuse(raw: bytes) -> OlpMessage | None:
    """The message, or None when refused the two ways the adapter handles (and counts)."""
    try:
        message = CODEC.decode_message(raw)
    except (MalformedMessage, ValidationFailed) as err:
        figures.count("mqtt-decode", f"refused: {type(err).__name__}")
        return None
    figures.count("mqtt-decode", "accepted")
    return message


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_every_seed_decodes(kind: str) -> None:
    """The seeds are valid: a refusal below is the mutation's doing."""
    for message in SEEDS[kind]:
        decoded = CODEC.decode_message(encoded(message))
        assert not isinstance(decoded, UnknownMessage), message


@FAST
@given(bad=bad_locker_bytes(ALL_KINDS))
@example(bad=("huge:eventSeq", encoded(SEEDS["door-closed"][0] | {"eventSeq": 2**70})))
@example(bad=("nested", b"[" * 30_000 + b"]" * 30_000))
# Found by this test: a `kind` that is a list or an object raised TypeError (unhashable) out of
# the codec, past the adapter's refusal (a forged reply with it cut the gateway's MQTT session).
@example(bad=("kind:list", encoded(SEEDS["boot"][0] | {"kind": []})))
@example(bad=("kind:object", encoded(SEEDS["open-compartment-result"][0] | {"kind": {}})))
@example(bad=("digits", b'{"seq":' + b"9" * 5000 + b"}"))
@example(bad=("nul", encoded(SEEDS["door-closed"][0] | {"id": "a\u0000b"})))
def test_a_message_decodes_or_is_refused_never_worse(bad: tuple[str, bytes]) -> None:
    what, raw = bad
    figures.count("mqtt-decode-inputs", what.split(":")[0])
    message = decode_or_refuse(raw)
    call_id = CODEC.call_id(raw)  # must not raise either: it addresses the error reply
    assert call_id is None or 0 < len(call_id) <= 36
    if message is None:
        return
    # What got through is in range for the database (int64) and maps without error.
    assert 0 <= message.seq <= JSON_SAFE_MAX
    assert message.event_seq is None or 1 <= message.event_seq <= JSON_SAFE_MAX
    event_from("LOCKER-1", message)
    if isinstance(message, BootCall):
        boot_info(message.payload)


@FAST
@given(bad=bad_locker_bytes(LOCKER_CALLS))
# Found by this test: an id of spaces (or other non-printable-ASCII text) was echoed as the
# reply's `corr`, so the error reply broke the envelope schema a locker checks it against.
@example(bad=("retype:id", encoded(SEEDS["boot"][0] | {"id": " "})))
@example(bad=("retype:id", encoded(SEEDS["heartbeat"][0] | {"id": "zażółć", "seq": -1})))
def test_the_error_reply_to_a_refused_call_is_itself_valid(bad: tuple[str, bytes]) -> None:
    """The adapter answers a broken call with the codec's error, details naming the fields:
    that reply must pass the locker's own schema check, whatever the call held."""
    _, raw = bad
    try:
        CODEC.decode_message(raw)
    except (MalformedMessage, ValidationFailed) as err:
        call_id = CODEC.call_id(raw)
        if call_id is None:
            return
        reply = CODEC.error(
            corr=call_id,
            action="Boot",
            code=ErrorCode.FORMAT_VIOLATION,
            description=err.description,
            src="gw:fuzz",
            seq=1,
            issues=err.issues,
        )
        decoded = CODEC.decode_message(CODEC.encode(reply))
        assert isinstance(decoded, ErrorReply)
        assert decoded.corr == call_id


@FAST
@given(
    topic=st.one_of(st.text(max_size=80), st.lists(st.text(max_size=12), max_size=6).map("/".join))
)
@example(topic="olp/v1/_gw")
@example(topic="olp/v1//evt/DoorClosed")
@example(topic="olp/v1/A\u0000/status")
def test_any_topic_parses_or_is_foreign(topic: str) -> None:
    info = topics.parse(topic)
    if info is not None:
        assert info.locker_id
        assert "/" not in info.locker_id


@settings(FAST, max_examples=examples(100))  # up to four messages an example
@given(raw=st.lists(bad_locker_bytes(("state",)).map(lambda b: b[1]), min_size=1, max_size=4))
def test_a_broken_state_never_replaces_a_good_one(raw: list[bytes]) -> None:
    snapshots = StateSnapshots(CODEC.decode_message)
    good = SEEDS["state"][0]
    snapshots.offer(good["src"], encoded(good))
    first = snapshots.latest(good["src"])
    assert first is not None
    for item in raw:
        refused = snapshots.refused
        snapshots.offer(good["src"], item)
        latest = snapshots.latest(good["src"])
        assert latest is not None  # an invalid one is logged, the good one kept
        if decode_or_refuse(item) is None:
            assert snapshots.refused == refused + 1  # and counted


def test_a_reply_error_with_details_of_any_json_is_accepted_or_refused() -> None:
    """`error.details` is free-form: a locker's error reply with odd details still decodes."""
    error = SEEDS["error"][0]
    for details in ({}, {"x": [1, {"y": None}]}, {"errors": [{"pointer": "", "detail": ""}]}):
        message: dict[str, Any] = json.loads(json.dumps(error))
        message["error"]["details"] = details
        with contextlib.suppress(OpenLockerError):
            CODEC.decode_message(encoded(message))
