"""gateway.sdk.schemas: one load per process, shared by the gateway's spec and the OLP codec."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway import spec as spec_module
from gateway.sdk import schemas
from gateway.sdk.olp import OlpCodec
from gateway.sdk.schemas import SpecLoadError, default_spec_dir, load_schemas
from gateway.spec import DEFAULT_SPEC_DIR, Spec

REPOSITORY_SPEC = Path(__file__).resolve().parents[2] / "schemas" / "v1"


def test_the_spec_and_the_codec_share_one_load() -> None:
    spec_module._load.cache_clear()
    schemas._load.cache_clear()
    Spec.load()
    OlpCodec.load()
    OlpCodec.load()
    load_schemas(REPOSITORY_SPEC)  # the same directory, however it is named
    assert schemas._load.cache_info().misses == 1
    assert Spec.load() is Spec.load()
    assert Spec.load().schemas is load_schemas()


def test_a_failed_load_is_not_kept(tmp_path: Path) -> None:
    with pytest.raises(SpecLoadError, match="does not exist"):
        load_schemas(tmp_path / "v1")
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "thing.json").write_text('{"type": "string"}')
    assert load_schemas(tmp_path / "v1").names == ("thing",)


def test_a_checkout_reads_the_top_level_spec() -> None:
    # These tests run from the source tree (an editable install); the wheel's copy is checked
    # by tests/packaging, where default_spec_dir() is gateway/_schemas/v1 in site-packages.
    assert default_spec_dir() == REPOSITORY_SPEC == DEFAULT_SPEC_DIR


def test_every_schema_and_definition_has_a_compiled_validator() -> None:
    loaded = load_schemas()
    for name in loaded.names:
        loaded.issues(name, {})  # no KeyError: compiled at load time
    assert loaded.issues("common#/$defs/LockerId", "WAW-1") == ()
    with pytest.raises(KeyError, match="no schema named 'nope'"):
        loaded.issues("nope", {})


# The fast (jsonschema-rs) and the authoritative (Python jsonschema) validators must agree:
# a message the fast one passes is never looked at again. Private members, on purpose: this is
# the drift guard between the two, and the public API shows only their joint verdict.
TRICKY = [
    ("common#/$defs/LockerId", ["L1\n", "L1", "-L1", "x" * 65, "WAW-MOK-01", ""]),
    (
        "common#/$defs/DateTime",
        [
            "2025-03-14T09:26:53Z",
            "2025-03-14t09:26:53z",
            "2025-02-30T00:00:00Z",
            "2025-03-14T09:26:53",
            "2025-03-14T24:00:00+01:00",
            "now",
            5,
        ],
    ),
    (
        "common#/$defs/ParcelId",
        ["RR123456785DE", "RR123456789DE", "carrier-own:42", "RR12345678DE"],
    ),
    # ECMA-262 `\s` (the schemas' dialect) and Python's differ: \x1c-\x1f and NEL are
    # whitespace only to Python, the BOM only to ECMA-262.
    (
        "common#/$defs/Recipient",
        [{"email": e} for e in ("a@b.c", "a b@c.d", "a\x1c@b.c", "a\x85@b.c", "a\ufeff@b.c")],
    ),
    # Formats the authority does not check (2020-12: an annotation) pass both validators.
    (
        "problem",
        [
            {"type": "about:blank", "title": "t", "status": 400, "code": "NotFound", "instance": i}
            for i in ("/ok", "a b", "%zz", "http://[x")
        ],
    ),
]


@pytest.mark.parametrize(("schema", "values"), TRICKY, ids=[t[0] for t in TRICKY])
def test_fast_and_authoritative_validators_agree_on_edge_cases(
    schema: str, values: list[object]
) -> None:
    loaded = load_schemas()
    for value in values:
        authoritative = not any(True for _ in loaded._validator(schema).iter_errors(value))
        assert loaded._passes_fast(schema, value) == authoritative, (schema, value)


def test_fast_and_authoritative_validators_agree_on_every_example() -> None:
    loaded = load_schemas()
    checked = 0
    for kind in ("examples", "examples-invalid"):
        for path in sorted((loaded.spec_dir / kind).glob("*/*.json")):
            name, value = path.parent.name, json.loads(path.read_bytes())
            authoritative = not any(True for _ in loaded._validator(name).iter_errors(value))
            assert loaded._passes_fast(name, value) == authoritative, path
            checked += 1
    assert checked > 300


def test_patterns_mean_what_ecma_262_says_in_both_validators(tmp_path: Path) -> None:
    # Python's `re` reads \d, \w, \s, `.` and \b as Unicode classes; ECMA-262 (and the fast
    # validator) reads \d and \w as ASCII, `.` as "not a line terminator"; \b is Unicode in
    # both.
    patterns = {
        "digits": r"^\d+$",
        "word": r"^\w+$",
        "spaced": r"^a\sb$",
        "unspaced": r"^\S+$",
        "dotted": r"^a.c$",
        "bounded": r"^.*\bx$",
        "classes": r"^[\d\w]+\D\W$",
    }
    (tmp_path / "v1").mkdir()
    for name, pattern in patterns.items():
        (tmp_path / "v1" / f"{name}.json").write_text(json.dumps({"pattern": pattern}))
    loaded = load_schemas(tmp_path / "v1")
    values = ["7", "\u0663", "abc", "\u00e9", "a b", "a\u00a0b", "a\x1cb", "a\ufeffb"]
    values += ["abc", "a\rc", "a\u2028c", "a\nc", "\u00e9x", " x", "a\x85b", "1a\u0663\u00e9"]
    for name in patterns:
        for value in values:
            authoritative = not any(True for _ in loaded._validator(name).iter_errors(value))
            assert loaded._passes_fast(name, value) == authoritative, (name, value)


def test_big_integers_get_one_verdict(tmp_path: Path) -> None:
    (tmp_path / "v1").mkdir()
    bounded = {"type": "integer", "minimum": 0, "maximum": 2**53}
    (tmp_path / "v1" / "bounded.json").write_text(json.dumps(bounded))
    (tmp_path / "v1" / "unbounded.json").write_text(json.dumps({"type": "integer"}))
    loaded = load_schemas(tmp_path / "v1")
    values: list[object] = [0, 2**53, 2**53 + 1, 2**64, 2**64 + 1, -(2**64), 10**40, 1.0, True]
    for name in ("bounded", "unbounded"):
        for value in values:
            authoritative = not any(True for _ in loaded._validator(name).iter_errors(value))
            assert loaded._passes_fast(name, value) == authoritative, (name, value)
