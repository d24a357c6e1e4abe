"""The OLP v1 topic tree (SPEC.md §9): builders and a parser, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

ROOT = "olp/v1"
SHARED_GROUP = "olp-gw"
_LOCKER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_ACTION = re.compile(r"[A-Z][A-Za-z0-9]{0,63}")
_INSTANCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class Channel(StrEnum):
    STATUS = "status"
    STATE = "state"
    EVENT = "evt"
    REQUEST = "req"
    LOCKER_REPLY = "res"
    COMMAND = "cmd"
    GATEWAY_REPLY = "gw-res"


@dataclass(frozen=True, slots=True)
class TopicInfo:
    channel: Channel
    locker_id: str
    action: str | None = None
    instance: str | None = None


def status(locker_id: str) -> str:
    return f"{ROOT}/{locker_id}/status"


def state(locker_id: str) -> str:
    return f"{ROOT}/{locker_id}/state"


def event(locker_id: str, action: str) -> str:
    return f"{ROOT}/{locker_id}/evt/{action}"


def request(locker_id: str, action: str) -> str:
    return f"{ROOT}/{locker_id}/req/{action}"


def locker_reply(locker_id: str) -> str:
    return f"{ROOT}/{locker_id}/res"


def command(locker_id: str, action: str) -> str:
    return f"{ROOT}/{locker_id}/cmd/{action}"


def gateway_reply(instance: str, locker_id: str) -> str:
    return f"{ROOT}/_gw/{instance}/res/{locker_id}"


def gateway_subscriptions(instance: str, *, shared_events: bool) -> list[str]:
    """What a gateway instance subscribes to. Presence and state are plain subscriptions:
    retained messages never reach shared subscribers."""
    events = f"{ROOT}/+/evt/#"
    requests = f"{ROOT}/+/req/#"
    if shared_events:
        events = f"$share/{SHARED_GROUP}/{events}"
        requests = f"$share/{SHARED_GROUP}/{requests}"
    return [
        f"{ROOT}/+/status",
        f"{ROOT}/+/state",
        events,
        requests,
        f"{ROOT}/_gw/{instance}/res/+",
    ]


def parse(topic: str) -> TopicInfo | None:
    """What a topic is, or None for anything outside the OLP tree or malformed."""
    parts = topic.split("/")
    if len(parts) < 3 or "/".join(parts[:2]) != ROOT:
        return None
    rest = parts[2:]
    if rest[0] == "_gw":
        if (
            len(rest) == 4
            and rest[2] == "res"
            and _ok(_INSTANCE, rest[1])
            and _ok(_LOCKER_ID, rest[3])
        ):
            return TopicInfo(Channel.GATEWAY_REPLY, rest[3], instance=rest[1])
        return None
    locker_id = rest[0]
    if not _ok(_LOCKER_ID, locker_id):
        return None
    if len(rest) == 2 and rest[1] in (Channel.STATUS, Channel.STATE, Channel.LOCKER_REPLY):
        return TopicInfo(Channel(rest[1]), locker_id)
    events = (Channel.EVENT, Channel.REQUEST, Channel.COMMAND)
    if len(rest) == 3 and rest[1] in events and _ok(_ACTION, rest[2]):
        return TopicInfo(Channel(rest[1]), locker_id, action=rest[2])
    return None


def _ok(pattern: re.Pattern[str], text: str) -> bool:
    return pattern.fullmatch(text) is not None
