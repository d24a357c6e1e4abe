"""Every schema file is a valid, closed, self-contained draft 2020-12 schema."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from gateway.spec import Spec

from .helpers import SCHEMA_FILES, load_json

DRAFT = "https://json-schema.org/draft/2020-12/schema"
# Objects whose content is free-form by design: event details, envelope payloads, error details.
OPEN_OBJECTS = {"details", "payload"}


def objects(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if node.get("type") == "object":
            yield path, node
        for key, value in node.items():
            yield from objects(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from objects(item, f"{path}/{i}")


def test_there_are_schemas() -> None:
    assert len(SCHEMA_FILES) >= 20


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_schema_is_valid_2020_12(path: Path) -> None:
    schema = load_json(path)
    assert schema["$schema"] == DRAFT
    assert "$id" not in schema, "relative refs must resolve against the file's own location"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_objects_we_own_are_closed(path: Path) -> None:
    for where, node in objects(load_json(path)):
        if where.rsplit("/", 1)[-1] in OPEN_OBJECTS:
            assert "properties" not in node, f"{path.name}{where}: free-form objects stay empty"
            continue
        extra = node.get("additionalProperties")
        assert extra is False or isinstance(extra, dict), f"{path.name}{where} is open"


def test_every_ref_resolves(spec: Spec) -> None:
    resolved = 0
    for name in spec.names:
        resolver = spec.registry.resolver(base_uri=f"https://openlocker.dev/olp/v1/{name}.json")
        for ref in _refs(spec.schema(name)):
            assert resolver.lookup(ref).contents is not None
            resolved += 1
    assert resolved > 50


def test_camel_case_member_names(spec: Spec) -> None:
    for name in spec.names:
        for where, node in objects(spec.schema(name)):
            for member in node.get("properties", {}):
                assert re.fullmatch(r"[a-z][A-Za-z0-9]*", member), f"{name}{where}: {member}"


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)
