"""Every EPCIS document the connector renders is valid to an independent validator (epcis2.js).

tools/epcis-validate runs epcis2.js's validateEpcisDocument (GS1's EPCIS 2.0 JSON Schema, full
format checks, field names, extension prefixes) in Node; the first run vendors the pinned
package with `npm pack`. Deliberately broken documents must be refused, or a pass means
nothing.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connectors.epcis import EpcisConfig, EpcisConnector
from gateway.sdk.connectors import OLP_EVENT_TYPES, PICKUP_REMINDER
from gateway.sdk.connectors.samples import sample_event
from tests.support.requirements import missing

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "epcis-validate"
VOCABULARY = ROOT / "schemas" / "v1" / "vocabulary"
URL = "https://epcis.acme.example/api"
CONFIGS: dict[str, dict[str, Any]] = {
    "default": {},
    "sscc-observe": {"parcel_uri": "https://id.gs1.org/00/{parcelId}", "capture": True},
    "sgln-plain": {
        "location_uri": "urn:epc:id:sgln:4012345.00001.{lockerId}",
        "olp_extensions": False,
    },
}
Doc = dict[str, Any]


@pytest.fixture(scope="module")
def dist() -> Path:
    """The vendored epcis2.js (installed on first use; a missing node fails, see
    tests/support/requirements.py)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        missing("node", "node/npm are not installed, so EPCIS output cannot be validated")
    done = subprocess.run(
        ["node", str(TOOL / "install.mjs")],
        capture_output=True,
        text=True,
        timeout=600,  # the first run downloads the pinned tarball
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return Path(done.stdout.strip())


def validate(docs: list[Any], *, files: list[Path] | None = None) -> tuple[int, Doc]:
    """Run the validator over `docs` (on stdin) or `files`; exit status and JSON verdict."""
    done = subprocess.run(
        ["node", str(TOOL / "validate.mjs"), *(str(f) for f in files or [])],
        input="" if files else json.dumps(docs),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr
    verdict: Doc = json.loads(done.stdout)
    return done.returncode, verdict


def rendered(config: dict[str, Any]) -> dict[str, Doc]:
    """One document per mapped event type (the first events also as seq 1: ADD and ILMD)."""
    connector = EpcisConnector(config=EpcisConfig.model_validate({"url": URL, **config}))
    docs: dict[str, Doc] = {}
    for event_type in OLP_EVENT_TYPES:
        if event_type == PICKUP_REMINDER:
            assert not connector.wants(event_type)
            continue
        for seq in (1, 3):
            event = sample_event(event_type, seq=seq)
            docs[f"{event_type}#{seq}"] = json.loads(connector.render(event).body)
    return docs


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_every_event_type_renders_a_valid_epcis_document(
    dist: Path, config: dict[str, Any]
) -> None:
    docs = rendered(config)
    assert len(docs) == 2 * (len(OLP_EVENT_TYPES) - 1)
    status, verdict = validate(list(docs.values()))
    problems = {
        name: result["errors"]
        for name, result in zip(docs, verdict["results"], strict=True)
        if not result["valid"]
    }
    assert problems == {}
    assert status == 0
    assert verdict["valid"] is True
    assert verdict["validator"] == "epcis2.js@2.7.3"


def _event(doc: Doc) -> Doc:
    found: Doc = doc["epcisBody"]["eventList"][0]
    return found


def _set(key: str, value: Any) -> Callable[[Doc], None]:
    return lambda doc: _event(doc).__setitem__(key, value)


def _drop(key: str) -> Callable[[Doc], None]:
    return lambda doc: _event(doc).pop(key)


# Each breaks one EPCIS 2.0 rule in an otherwise valid document.
BREAKAGES: dict[str, Callable[[Doc], None]] = {
    "bizStep as a CBV URN (JSON-LD wants the bare term)": _set(
        "bizStep", "urn:epcglobal:cbv:bizstep:storing"
    ),
    "bizStep not in the CBV": _set("bizStep", "teleporting"),
    "disposition not in the CBV": _set("disposition", "on_the_moon"),
    "unknown action": _set("action", "MOVE"),
    "eventID not a URI": _set("eventID", "event 42"),
    "epcList entry not a URI": _set("epcList", ["parcel JJD0003"]),
    "no eventTimeZoneOffset": _drop("eventTimeZoneOffset"),
    "offset beyond +14:00": _set("eventTimeZoneOffset", "+15:00"),
    "eventTime not a date-time": _set("eventTime", "yesterday"),
    "unprefixed unknown field": _set("compartment", "B07"),
    "extension prefix missing from @context": _set("acme:route", "R7"),
    "readPoint without id": _set("readPoint", {"name": "Centrum 01"}),
    "no schemaVersion": lambda doc: doc.pop("schemaVersion"),
    "no @context": lambda doc: doc.pop("@context"),
}


def test_broken_documents_are_refused(dist: Path) -> None:
    valid = rendered({})["parcel.ready_for_pickup#3"]
    broken = []
    for breakage in BREAKAGES.values():
        doc = copy.deepcopy(valid)
        breakage(doc)
        broken.append(doc)
    status, verdict = validate([valid, *broken])
    assert status == 1
    assert verdict["valid"] is False
    first, *rest = verdict["results"]
    assert first["valid"] is True, first["errors"]
    accepted = [name for name, result in zip(BREAKAGES, rest, strict=True) if result["valid"]]
    assert accepted == []
    assert all(result["errors"] for result in rest)


def test_files_and_garbage(dist: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.jsonld"
    good.write_text(json.dumps(rendered({})["parcel.picked_up#3"]))
    garbage = tmp_path / "garbage.jsonld"
    garbage.write_text("{not json")
    array = tmp_path / "array.jsonld"
    array.write_text("[]")
    status, verdict = validate([], files=[good, garbage, array])
    assert status == 1
    assert [r["valid"] for r in verdict["results"]] == [True, False, False]
    assert verdict["results"][1]["errors"][0].startswith("not JSON")


def test_our_cbv_lists_are_the_ones_epcis2js_enforces(dist: Path) -> None:
    """The vocabulary lists beside our tables equal the enums of GS1's EPCIS 2.0 schema."""
    schema = json.loads(
        (dist.parents[1] / "src" / "schema" / "EPCISDocument.schema.json").read_text()
    )
    definitions = schema["definitions"]

    def enum(name: str) -> set[str]:
        (values,) = [a["enum"] for a in definitions[name]["anyOf"] if "enum" in a]
        return set(values)

    def ours(name: str) -> set[str]:
        return {c["code"] for c in json.loads((VOCABULARY / name).read_text())["codes"]}

    assert ours("cbv-business-steps.json") == enum("bizStep")
    assert ours("cbv-dispositions.json") == enum("disposition")
