"""asyncapi.yaml is valid AsyncAPI 3.0 to an independent parser and agrees with SPEC.md §9."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.spec import Spec, uri
from tests.support.requirements import missing

from .helpers import SPEC_DIR, markdown_table

ASYNCAPI = SPEC_DIR / "asyncapi.yaml"
VALIDATOR = SPEC_DIR.parents[1] / "scripts" / "validate-asyncapi"
SCHEMA_FORMAT = "application/schema+json;version=draft-2020-12"
RETAINED = {"olp/v1/{lockerId}/status", "olp/v1/{lockerId}/state"}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(ASYNCAPI.read_text(encoding="utf-8"))
    return loaded


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def local(doc: dict[str, Any], ref: str) -> Any:
    """The node a '#/...' reference of asyncapi.yaml points at (KeyError when it dangles)."""
    target: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return target


def deref(doc: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and str(node.get("$ref", "")).startswith("#/"):
        node = local(doc, node["$ref"])
    return node


def messages(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = doc["components"]["messages"]
    return found


def message_schema_of(message: dict[str, Any]) -> str:
    """The olp-message-* schema name a message's payload refers to."""
    ref: str = message["payload"]["schema"]["$ref"]
    return ref.removeprefix("./").removesuffix(".json")


def channel_of(doc: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    channel: dict[str, Any] = deref(doc, operation["channel"])
    return channel


def validate(document: Path) -> subprocess.CompletedProcess[str]:
    """Run scripts/validate-asyncapi (a missing node fails, see tests/support/requirements.py)."""
    if shutil.which("node") is None:
        missing("node", "node is not installed, so asyncapi.yaml cannot be validated")
    return subprocess.run(
        [str(VALIDATOR), str(document)],
        capture_output=True,
        text=True,
        timeout=600,  # the first run installs the pinned parser with npm ci
        check=False,
    )


def test_independent_validator_accepts_the_document() -> None:
    done = validate(ASYNCAPI)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid AsyncAPI 3.0.0" in done.stdout


# A broken document stops the parser before it hands the payload schemas over, so the
# document's own mistakes and the schemas' are tried apart.
BREAKAGES = {
    "mqtt-binding": {
        "asyncapi.yaml": [("qos: 1", "qos: 3", "operationBindings/retained/mqtt")],
    },
    "schemas": {
        "olp-boot.json": [('"minItems": 1', '"minItems": -1', "minItems must be >= 0")],
        "olp-message-fault.json": [('{"const": "event"}', '{"type": "text"}', "Fault/payload")],
    },
}


@pytest.mark.parametrize("edits", BREAKAGES.values(), ids=BREAKAGES.keys())
def test_independent_validator_rejects_a_broken_document(
    tmp_path: Path, edits: dict[str, list[tuple[str, str, str]]]
) -> None:
    for path in SPEC_DIR.glob("*.*"):
        shutil.copy(path, tmp_path / path.name)
    for file, changes in edits.items():
        text = (tmp_path / file).read_text()
        for old, new, _ in changes:
            assert old in text
            text = text.replace(old, new, 1)
        (tmp_path / file).write_text(text)
    done = validate(tmp_path / "asyncapi.yaml")
    assert done.returncode == 1, done.stdout + done.stderr
    for changes in edits.values():
        for _, _, complaint in changes:
            assert complaint in done.stderr


def test_is_asyncapi_3(doc: dict[str, Any]) -> None:
    assert doc["asyncapi"] == "3.0.0"
    assert doc["defaultContentType"] == "application/json"
    servers = doc["servers"].values()
    assert {(s["protocol"], s["protocolVersion"]) for s in servers} == {
        ("mqtt", "3.1.1"),
        ("mqtt", "5"),
    }


def test_every_ref_lands(doc: dict[str, Any], spec: Spec) -> None:
    checked = 0
    for ref in refs(doc):
        if ref.startswith("#/"):
            local(doc, ref)
        else:
            file, _, fragment = ref.removeprefix("./").partition("#")
            assert (SPEC_DIR / file).is_file(), ref
            resolver = spec.registry.resolver(base_uri=uri(file))
            assert resolver.lookup(f"#{fragment}" if fragment else "").contents is not None
        checked += 1
    assert checked > 60


def test_every_mqtt_schema_is_used_by_a_message(doc: dict[str, Any], spec: Spec) -> None:
    todo = [message_schema_of(m) for m in messages(doc).values()]
    reached: set[str] = set()
    while todo:
        name = todo.pop().removesuffix(".json")
        if name and name not in reached:
            reached.add(name)
            todo.extend(r.partition("#")[0] for r in refs(spec.schema(name)))
    mqtt = {name for name in spec.names if name.startswith("olp-")} | {"envelope"}
    assert mqtt - reached == set()


def test_messages_name_their_schema_and_format(doc: dict[str, Any], spec: Spec) -> None:
    for key, message in messages(doc).items():
        assert message["name"] == key
        assert message["payload"]["schemaFormat"] == SCHEMA_FORMAT
        stem = re.sub(r"(?<!^)(?=[A-Z])", "-", key.removesuffix("Result")).lower()
        expected = f"olp-message-{stem}" + ("-result" if key.endswith("Result") else "")
        assert message_schema_of(message) == expected, key
        assert expected in spec.names


def test_channels_are_the_topics_of_spec_md(doc: dict[str, Any]) -> None:
    spec_md = (SPEC_DIR / "SPEC.md").read_text(encoding="utf-8")
    topics = {row["topic"].strip("`"): row for row in markdown_table(spec_md, "topic")}
    addresses = {c["address"] for c in doc["channels"].values()}
    assert addresses == set(topics)
    assert {t for t, row in topics.items() if row["retained"] == "yes"} == RETAINED


def test_channel_parameters_match_the_address(doc: dict[str, Any]) -> None:
    for name, channel in doc["channels"].items():
        placeholders = set(re.findall(r"\{(\w+)\}", channel["address"]))
        assert set(channel.get("parameters", {})) == placeholders, name
        assert placeholders <= {"lockerId", "action", "instance"}, name


def test_action_enums_list_the_channel_messages(doc: dict[str, Any]) -> None:
    for name, channel in doc["channels"].items():
        if "action" in channel.get("parameters", {}):
            parameter = deref(doc, channel["parameters"]["action"])
            assert parameter["location"] == "$message.payload#/action"
            assert sorted(parameter["enum"]) == sorted(channel["messages"]), name


def test_operations_use_their_channel_messages(doc: dict[str, Any]) -> None:
    for name, operation in doc["operations"].items():
        channel = operation["channel"]["$ref"]
        for message in operation["messages"]:
            assert message["$ref"].startswith(channel + "/messages/"), name
        reply = operation.get("reply")
        if reply is not None:
            for message in reply["messages"]:
                assert message["$ref"].startswith(reply["channel"]["$ref"] + "/messages/"), name


def test_qos_1_everywhere_retained_only_presence_and_state(doc: dict[str, Any]) -> None:
    covered = set()
    for name, operation in doc["operations"].items():
        mqtt = deref(doc, operation["bindings"])["mqtt"]
        address = channel_of(doc, operation)["address"]
        covered.add(address)
        assert mqtt["qos"] == 1, name
        assert mqtt["retain"] is (address in RETAINED), name
        expiring = "messageExpiryInterval" in mqtt
        assert expiring is ("/cmd/" in address), name  # commands mirror exp into MQTT 5 expiry
    replies = {
        channel_of(doc, op["reply"])["address"]
        for op in doc["operations"].values()
        if "reply" in op
    }
    assert covered | replies == {c["address"] for c in doc["channels"].values()}


def test_calls_have_a_reply_with_result_and_error(doc: dict[str, Any]) -> None:
    for name, operation in doc["operations"].items():
        address = channel_of(doc, operation)["address"]
        is_call = "/req/" in address or "/cmd/" in address
        assert ("reply" in operation) is is_call, name
        if is_call:
            (call,) = (deref(doc, m) for m in operation["messages"])
            answers = {deref(doc, m)["name"] for m in operation["reply"]["messages"]}
            assert answers == {f"{call['name']}Result", "Error"}, name
            assert operation["action"] == ("receive" if "/req/" in address else "send"), name


def test_correlation_ids(doc: dict[str, Any], spec: Spec) -> None:
    for key, message in messages(doc).items():
        kind = _const(spec, message_schema_of(message), "kind")
        correlation = message.get("correlationId")
        if kind == "event":
            assert correlation is None, key
            continue
        member = "id" if kind == "call" else "corr"
        assert deref(doc, correlation)["location"] == f"$message.payload#/{member}", key


def test_message_kinds_fit_their_channels(doc: dict[str, Any], spec: Spec) -> None:
    for name, channel in doc["channels"].items():
        address = channel["address"]
        kinds = {
            _const(spec, message_schema_of(deref(doc, m)), "kind")
            for m in channel["messages"].values()
        }
        if address.endswith("/res") or "/res/" in address:
            assert kinds == {"result", "error"}, name
        elif "/req/" in address or "/cmd/" in address:
            assert kinds == {"call"}, name
        else:
            assert kinds == {"event"}, name


def _const(spec: Spec, schema: str, member: str) -> str:
    """The `const` an olp-message-* schema pins a member to (in the second part of its allOf)."""
    envelope, narrowing = spec.schema(schema)["allOf"]
    assert envelope == {"$ref": "envelope.json"}
    value: str = narrowing["properties"][member]["const"]
    return value
