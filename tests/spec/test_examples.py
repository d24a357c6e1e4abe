"""Every valid example validates, every invalid one fails, and every message has both."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.spec import Spec

from .helpers import MESSAGE_SCHEMAS, example_files, example_id, load_json

VALID = example_files("examples")
INVALID = example_files("examples-invalid")


@pytest.mark.parametrize("name", MESSAGE_SCHEMAS)
def test_each_message_schema_has_examples(name: str) -> None:
    assert any(p.parent.name == name for p in VALID), f"no example for {name}"
    assert any(p.parent.name == name for p in INVALID), f"no invalid example for {name}"


def test_example_directories_name_schemas(spec: Spec) -> None:
    for path in VALID + INVALID:
        assert path.parent.name in spec.names, f"{path}: no schema {path.parent.name}.json"


@pytest.mark.parametrize("path", VALID, ids=example_id)
def test_valid_example(spec: Spec, path: Path) -> None:
    assert spec.issues(path.parent.name, load_json(path)) == ()


@pytest.mark.parametrize("path", INVALID, ids=example_id)
def test_invalid_example(spec: Spec, path: Path) -> None:
    issues = spec.issues(path.parent.name, load_json(path))
    assert issues, f"{example_id(path)} should fail {path.parent.name}.json"
    assert all(i.pointer == "" or i.pointer.startswith("/") for i in issues)
