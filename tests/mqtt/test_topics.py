"""The OLP topic tree: builders and the parser agree; anything else is refused."""

from __future__ import annotations

import pytest

from gateway.mqtt import topics
from gateway.mqtt.topics import Channel, TopicInfo


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        (topics.status("L-1"), TopicInfo(Channel.STATUS, "L-1")),
        (topics.state("L-1"), TopicInfo(Channel.STATE, "L-1")),
        (topics.event("L-1", "DoorOpened"), TopicInfo(Channel.EVENT, "L-1", "DoorOpened")),
        (topics.request("L-1", "Boot"), TopicInfo(Channel.REQUEST, "L-1", "Boot")),
        (topics.locker_reply("L-1"), TopicInfo(Channel.LOCKER_REPLY, "L-1")),
        (
            topics.command("L-1", "OpenCompartment"),
            TopicInfo(Channel.COMMAND, "L-1", "OpenCompartment"),
        ),
        (
            topics.gateway_reply("gw-1", "L-1"),
            TopicInfo(Channel.GATEWAY_REPLY, "L-1", instance="gw-1"),
        ),
    ],
)
def test_builders_and_parser_agree(topic: str, expected: TopicInfo) -> None:
    assert topics.parse(topic) == expected


@pytest.mark.parametrize(
    "topic",
    [
        "olp/v2/L-1/status",
        "olp/v1",
        "olp/v1/L-1",
        "olp/v1/L-1/unknown",
        "olp/v1/L-1/evt",
        "olp/v1/L-1/evt/lowercase",
        "olp/v1/L-1/evt/DoorOpened/extra",
        "olp/v1/-bad/status",
        "olp/v1/_gw/gw-1/res",
        "olp/v1/_gw/gw-1/cmd/L-1",
        "other/topic",
        "olp/v1/" + "x" * 65 + "/status",
    ],
)
def test_foreign_or_malformed_topics_are_refused(topic: str) -> None:
    assert topics.parse(topic) is None


def test_gateway_subscriptions_share_events_but_not_presence() -> None:
    shared = topics.gateway_subscriptions("gw-7", shared_events=True)
    assert "olp/v1/+/status" in shared
    assert "olp/v1/+/state" in shared
    assert "$share/olp-gw/olp/v1/+/evt/#" in shared
    assert "olp/v1/_gw/gw-7/res/+" in shared
    plain = topics.gateway_subscriptions("gw-7", shared_events=False)
    assert "olp/v1/+/evt/#" in plain
