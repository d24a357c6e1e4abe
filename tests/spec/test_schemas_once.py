"""gateway.sdk.schemas: one load per process, shared by the gateway's spec and the OLP codec."""

from __future__ import annotations

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
