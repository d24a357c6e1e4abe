"""gateway.spec: loading once, pointing at the offending field, refusing broken spec dirs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from gateway.errors import ErrorCode, FieldIssue, NotFound, ValidationFailed
from gateway.spec import DEFAULT_SPEC_DIR, Spec, SpecLoadError, pointer

GOOD = {"parcelId": "CP473120950PL", "lockerId": "WAW-MOK-01", "sizeClass": "M"}


def failure(spec: Spec, schema: str, instance: object) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        spec.validate(schema, instance)
    return caught.value


def test_default_dir_is_the_repository_spec(spec: Spec) -> None:
    assert spec.spec_dir == DEFAULT_SPEC_DIR == Path(__file__).resolve().parents[2] / "schemas/v1"
    assert {"parcel", "create-parcel-request", "lifecycle"} <= set(spec.names)


def test_valid_instance_passes(spec: Spec) -> None:
    spec.validate("create-parcel-request", GOOD)
    spec.validate("create-parcel-request.json", GOOD)  # the file name works as well


def test_error_carries_code_pointer_and_summary(spec: Spec) -> None:
    err = failure(spec, "create-parcel-request", {**GOOD, "weightG": 0})
    assert err.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    assert err.issues == (FieldIssue("/weightG", "must be at least 1"),)
    assert err.description == "invalid create-parcel-request: /weightG must be at least 1"


def test_missing_member_is_pointed_at_by_name(spec: Spec) -> None:
    err = failure(spec, "create-parcel-request", {"sizeClass": "M"})
    assert [i.pointer for i in err.issues] == ["/lockerId", "/parcelId"]
    assert "(and 1 more)" in err.description


def test_unknown_member_is_pointed_at(spec: Spec) -> None:
    err = failure(spec, "create-parcel-request", {**GOOD, "a/b~c": 1})
    assert err.issues == (FieldIssue("/a~1b~0c", "is not an allowed member"),)


def test_nested_issue(spec: Spec) -> None:
    body = {**GOOD, "dimensionsMm": {"length": 10, "width": 10, "height": 3001}}
    assert failure(spec, "create-parcel-request", body).issues == (
        FieldIssue("/dimensionsMm/height", "must be at most 3000"),
    )


def test_either_of_two_members(spec: Spec) -> None:
    err = failure(spec, "create-parcel-request", {"parcelId": "p1", "lockerId": "L1"})
    assert err.issues == (FieldIssue("", "needs one of: sizeClass, dimensionsMm"),)


def test_nullable_timestamp_reports_the_real_problem(spec: Spec) -> None:
    parcel = json.loads((DEFAULT_SPEC_DIR / "examples/parcel/reserved.json").read_text())
    err = failure(spec, "parcel", {**parcel, "reservedUntil": "2025-02-30T00:00:00Z"})
    assert err.issues == (FieldIssue("/reservedUntil", "day is out of range for month"),)
    err = failure(spec, "parcel", {**parcel, "reservedUntil": 5})
    assert err.issues == (FieldIssue("/reservedUntil", "must be of type null or string"),)


@pytest.mark.parametrize(
    ("parcel_id", "problem"),
    [
        ("RR123456785DE", None),
        ("RR123456789DE", "S10 check digit is 9, expected 5"),
        ("carrier-own:42", None),  # not S10-shaped: no check digit to verify
        ("RR12345678DE", None),  # 12 characters: not S10-shaped
    ],
)
def test_s10_ids_are_checked(spec: Spec, parcel_id: str, problem: str | None) -> None:
    issues = spec.issues("common#/$defs/ParcelId", parcel_id)
    assert issues == (() if problem is None else (FieldIssue("", problem),))


@pytest.mark.parametrize("locker_id", ["L1\n", "L/1", "L+", "#", "", "x" * 65, "-L1"])
def test_locker_ids_are_topic_safe(spec: Spec, locker_id: str) -> None:
    assert spec.issues("common#/$defs/LockerId", locker_id)


@pytest.mark.parametrize(
    "value", ["2025-03-14T09:26:53", "2025-03-14 09:26:53Z", "2025-13-01T00:00:00Z", "", "now"]
)
def test_bad_timestamps(spec: Spec, value: str) -> None:
    assert spec.issues("common#/$defs/DateTime", value)


def test_unknown_schema_is_a_programming_error(spec: Spec) -> None:
    with pytest.raises(KeyError, match="no schema named 'parcels'"):
        spec.validate("parcels", {})


def test_files_are_served_from_memory(spec: Spec) -> None:
    openapi = spec.file("openapi.yaml")
    assert openapi.media_type == "application/yaml"
    assert openapi.content.startswith(b"openapi: 3.1.0")
    assert spec.file("parcel.json").media_type == "application/schema+json"
    assert set(spec.published_files()) >= {"SPEC.md", "openapi.yaml", "parcel.json"}
    assert spec.published_files()["SPEC.md"] == (DEFAULT_SPEC_DIR / "SPEC.md").read_bytes()
    with pytest.raises(NotFound):
        spec.file("../pyproject.toml")
    with pytest.raises(NotFound):
        spec.file("examples")


def test_pointer_escapes() -> None:
    assert pointer(["a/b", "m~n", 0]) == "/a~1b/m~0n/0"
    assert pointer([]) == ""


@pytest.fixture
def spec_copy(tmp_path: Path) -> Path:
    target = tmp_path / "v1"
    shutil.copytree(DEFAULT_SPEC_DIR, target, ignore=shutil.ignore_patterns("examples*"))
    return target


def edit(path: Path, change: dict[str, Any]) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))


def test_loads_from_another_dir_and_reads_no_file_afterwards(spec_copy: Path) -> None:
    loaded = Spec.load(spec_copy)
    shutil.rmtree(spec_copy)  # everything must already be in memory
    loaded.validate("create-parcel-request", GOOD)
    assert loaded.file("SPEC.md").content


def test_refuses_a_missing_dir(tmp_path: Path) -> None:
    with pytest.raises(SpecLoadError, match="does not exist"):
        Spec.load(tmp_path / "nope")


def test_refuses_a_dangling_ref(spec_copy: Path) -> None:
    edit(spec_copy / "locker.json", {"properties": {"id": {"$ref": "common.json#/$defs/Nope"}}})
    with pytest.raises(SpecLoadError, match=r"locker\.json: cannot resolve"):
        Spec.load(spec_copy)


def test_refuses_an_id(spec_copy: Path) -> None:
    edit(spec_copy / "health.json", {"$id": "https://example.com/health.json"})
    with pytest.raises(SpecLoadError, match=r"\$id"):
        Spec.load(spec_copy)


def test_refuses_an_invalid_schema(spec_copy: Path) -> None:
    edit(spec_copy / "health.json", {"required": "status"})
    with pytest.raises(SpecLoadError, match=r"health\.json"):
        Spec.load(spec_copy)


def test_refuses_broken_json(spec_copy: Path) -> None:
    (spec_copy / "health.json").write_text("{")
    with pytest.raises(SpecLoadError, match=r"health\.json"):
        Spec.load(spec_copy)


def test_refuses_a_pattern_that_is_no_regex(spec_copy: Path) -> None:
    edit(spec_copy / "health.json", {"properties": {"status": {"pattern": "(unclosed"}}})
    with pytest.raises(SpecLoadError, match="unclosed"):
        Spec.load(spec_copy)
