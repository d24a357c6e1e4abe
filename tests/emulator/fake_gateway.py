"""A tiny gateway instance for the emulator's tests, written here with aiomqtt and jsonschema.

It shares no code with the emulator: it loads schemas/v1 its own way, answers Boot by a script
(`Accepted`, `Pending`, `Rejected`), sends commands, and records (and validates) everything
the lockers publish.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiomqtt
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_DIR = Path(__file__).resolve().parents[2] / "schemas" / "v1"
_BASE = "https://spec.test/olp/v1/"


def _keep_cancellation() -> None:
    # Python 3.11's asyncio.wait_for (inside aiomqtt) can swallow a cancellation: re-raise it.
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SpecCheck:
    """Validates whole OLP messages with the `olp-message-*.json` schema their kind/action name."""

    def __init__(self, spec_dir: Path = SPEC_DIR) -> None:
        docs = {p.name: json.loads(p.read_text()) for p in spec_dir.glob("*.json")}
        registry: Registry[Any] = Registry().with_resources(
            (_BASE + name, Resource.from_contents(doc, DRAFT202012)) for name, doc in docs.items()
        )
        self._names = set(docs)
        self._registry = registry
        self._cache: dict[str, Any] = {}

    def _validator(self, name: str) -> Any:
        if name not in self._cache:
            self._cache[name] = Draft202012Validator(
                {"$ref": _BASE + name}, registry=self._registry
            )
        return self._cache[name]

    @staticmethod
    def schema_for(message: dict[str, Any]) -> str:
        kind, action = message.get("kind"), str(message.get("action", ""))
        if kind == "error":
            return "olp-message-error.json"
        kebab = "".join(f"-{c.lower()}" if c.isupper() else c for c in action).lstrip("-")
        return f"olp-message-{kebab}{'-result' if kind == 'result' else ''}.json"

    def problems(self, message: object) -> list[str]:
        """Empty when `message` is valid; a schema must exist for it."""
        if not isinstance(message, dict):
            return ["not a JSON object"]
        name = self.schema_for(message)
        if name not in self._names:
            return [f"no schema {name} for this message"]
        return [e.message for e in self._validator(name).iter_errors(message)]


@dataclass
class Seen:
    """One message the gateway received."""

    topic: str
    message: dict[str, Any]
    retain: bool
    correlation: bytes | None = None
    response_topic: str | None = None
    expiry: int | None = None
    at: float = field(default_factory=lambda: asyncio.get_running_loop().time())

    @property
    def action(self) -> str:
        return str(self.message.get("action"))

    @property
    def kind(self) -> str:
        return str(self.message.get("kind"))

    @property
    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = self.message.get("payload", {})
        return payload


class FakeGateway:
    """`async with FakeGateway(port=...) as gw:` — reconnects by itself if the broker restarts."""

    def __init__(
        self,
        *,
        port: int,
        instance: str = "test",
        boot: Iterable[str] = ("Accepted",),
        heartbeat_seconds: int = 60,
        v5: bool = True,
        check: SpecCheck | None = None,
    ) -> None:
        self.port = port
        self.instance = instance
        self.src = f"gw:{instance}"
        self._boot_script = list(boot)
        self.heartbeat_seconds = heartbeat_seconds
        self.v5 = v5
        self.check = check or SpecCheck()
        self.seen: list[Seen] = []
        self.invalid: list[tuple[str, list[str]]] = []
        self.heartbeat_answer: dict[str, Any] | None = None
        self._seq = 0
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name="fake-gateway")
        async with asyncio.timeout(5):
            await self._connected.wait()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            protocol = aiomqtt.ProtocolVersion.V5 if self.v5 else aiomqtt.ProtocolVersion.V311
            client = aiomqtt.Client(
                "127.0.0.1", self.port, identifier=f"gw-{self.instance}", protocol=protocol
            )
            try:
                async with client:
                    for topic in (
                        "olp/v1/+/status",
                        "olp/v1/+/state",
                        "olp/v1/+/evt/+",
                        "olp/v1/+/req/+",
                        f"olp/v1/_gw/{self.instance}/res/+",
                    ):
                        await client.subscribe(topic, qos=1)
                    self._client = client
                    self._connected.set()
                    async for message in client.messages:
                        await self._on_message(client, message)
                        _keep_cancellation()
            except aiomqtt.MqttError:
                _keep_cancellation()
                self._connected.clear()
                self._client = None
                await asyncio.sleep(0.1)

    def _touch(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _on_message(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        assert isinstance(message.payload, bytes)
        body = json.loads(message.payload)
        props = message.properties
        seen = Seen(
            topic=message.topic.value,
            message=body,
            retain=message.retain,
            correlation=getattr(props, "CorrelationData", None),
            response_topic=getattr(props, "ResponseTopic", None),
            expiry=getattr(props, "MessageExpiryInterval", None),
        )
        problems = self.check.problems(body)
        if problems:
            self.invalid.append((seen.topic, problems))
        self.seen.append(seen)
        self._touch()
        if seen.topic.endswith("/req/Boot"):
            status = (
                self._boot_script.pop(0) if len(self._boot_script) > 1 else self._boot_script[0]
            )
            payload: dict[str, Any] = {
                "status": status,
                "heartbeatIntervalSeconds": self.heartbeat_seconds if status == "Accepted" else 1,
                "currentTime": _stamp(datetime.now(UTC)),
            }
            if status != "Accepted":
                payload["reason"] = "test says so"
            await self.reply(client, seen, payload)
        elif seen.topic.endswith("/req/Heartbeat"):
            if self.heartbeat_answer is not None:
                answer, self.heartbeat_answer = self.heartbeat_answer, None
                await self.reply(client, seen, None, error=answer)
            else:
                await self.reply(client, seen, {"currentTime": _stamp(datetime.now(UTC))})

    def _envelope(self, **members: Any) -> dict[str, Any]:
        body = {
            "olp": "1.0",
            "id": str(uuid.uuid4()),
            "ts": _stamp(datetime.now(UTC)),
            "src": self.src,
            "seq": self._seq,
        }
        self._seq += 1
        body.update(members)
        return body

    async def reply(
        self,
        client: aiomqtt.Client,
        call: Seen,
        payload: dict[str, Any] | None,
        *,
        error: dict[str, Any] | None = None,
    ) -> None:
        locker_id = call.topic.split("/")[2]
        members: dict[str, Any] = {"action": call.action, "corr": call.message["id"]}
        if error is not None:
            body = self._envelope(kind="error", error=error, **members)
        else:
            body = self._envelope(kind="result", payload=payload, **members)
        await client.publish(f"olp/v1/{locker_id}/res", json.dumps(body), qos=1)

    async def command(
        self,
        locker_id: str,
        action: str,
        payload: dict[str, Any],
        *,
        exp_seconds: float = 30.0,
        message_id: str | None = None,
        topic_action: str | None = None,
        **overrides: Any,
    ) -> dict[str, Any]:
        """Publish a command (v5: with Correlation Data and Response Topic); returns it."""
        members: dict[str, Any] = {
            "kind": "call",
            "action": action,
            "exp": _stamp(datetime.now(UTC) + timedelta(seconds=exp_seconds)),
            "payload": payload,
        }
        members.update(overrides)
        body = self._envelope(**members)
        if message_id is not None:
            body["id"] = message_id
        await self.publish(
            f"olp/v1/{locker_id}/cmd/{topic_action or action}",
            json.dumps(body).encode(),
            correlation=str(body["id"]).encode(),
        )
        return body

    async def publish(self, topic: str, data: bytes, *, correlation: bytes | None = None) -> None:
        """Publish raw bytes (for malformed messages)."""
        assert self._client is not None
        props = None
        if self.v5 and correlation is not None:
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.CorrelationData = correlation
            props.ResponseTopic = f"olp/v1/_gw/{self.instance}/res/+"
        await self._client.publish(topic, data, qos=1, properties=props)

    def where(self, match: Callable[[Seen], bool]) -> list[Seen]:
        """Every message seen so far that matches."""
        return [s for s in self.seen if match(s)]

    async def wait_for(self, match: Callable[[Seen], bool], within: float = 5.0) -> Seen:
        """The first message (already seen or arriving) that matches."""
        async with asyncio.timeout(within):
            while True:
                found = self.where(match)
                if found:
                    return found[0]
                await self._changed.wait()

    async def reply_to(self, command: dict[str, Any], within: float = 5.0) -> Seen:
        """The locker's reply (result or error) to one of our commands."""
        return await self.wait_for(lambda s: s.message.get("corr") == command["id"], within)

    async def wait_connected(self, within: float = 10.0) -> None:
        async with asyncio.timeout(within):
            await self._connected.wait()


async def no_reply(gateway: FakeGateway, command: dict[str, Any], seconds: float = 0.6) -> bool:
    """True when no reply to `command` arrived within `seconds`."""
    with contextlib.suppress(TimeoutError):
        await gateway.reply_to(command, within=seconds)
        return False
    return True


def is_event(action: str, locker_id: str | None = None) -> Callable[[Seen], bool]:
    """Matches an evt/{action} message (of one locker)."""

    def match(seen: Seen) -> bool:
        return (
            seen.kind == "event"
            and seen.action == action
            and (locker_id is None or seen.topic.startswith(f"olp/v1/{locker_id}/"))
        )

    return match


async def read_retained(port: int, topic: str, within: float = 3.0) -> dict[str, Any]:
    """What a subscriber arriving now gets as the retained message of `topic`."""
    async with aiomqtt.Client("127.0.0.1", port, identifier=f"late-{uuid.uuid4().hex[:8]}") as c:
        await c.subscribe(topic, qos=1)
        async with asyncio.timeout(within):
            async for message in c.messages:
                assert message.retain, "expected the retained message first"
                assert isinstance(message.payload, bytes)
                body: dict[str, Any] = json.loads(message.payload)
                return body
    raise AssertionError("no retained message")
