"""schemas/v1/vocabulary: valid tables, each event type mapped once, listed codes only, SPEC §12."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from gateway.domain.enums import Direction, ParcelState
from gateway.domain.parcel import FIRST_MILE_TRANSITIONS, TERMINAL_STATES, TRANSITIONS
from gateway.domain.webhooks import WebhookEventType
from gateway.sdk.connectors import OLP_EVENT_TYPES, PICKUP_REMINDER
from gateway.spec import BASE_URI

from .helpers import SPEC_DIR, code_token, load_json, markdown_table

VOCABULARY = SPEC_DIR / "vocabulary"
SPEC_MD = (SPEC_DIR / "SPEC.md").read_text(encoding="utf-8")
# Each table and the schema it is written against ("$schema" of the data file).
TABLES = {
    "olp-event-types.json": "olp-event-types.schema.json",
    "olp-to-upu-emsevt.json": "olp-to-upu-emsevt.schema.json",
    "olp-to-gs1-cbv.json": "olp-to-gs1-cbv.schema.json",
    "upu-emsevt-events.json": "code-list.schema.json",
    "cbv-business-steps.json": "code-list.schema.json",
    "cbv-dispositions.json": "code-list.schema.json",
}


def table(name: str) -> Any:
    return load_json(VOCABULARY / name)


def codes(name: str) -> set[str]:
    return {c["code"] for c in table(name)["codes"]}


def validator(schema_name: str) -> Draft202012Validator:
    """A validator for a vocabulary schema; its `../lifecycle.json` refs resolve offline."""
    resources = [
        (f"{BASE_URI}{p.name}", Resource.from_contents(load_json(p), DRAFT202012))
        for p in SPEC_DIR.glob("*.json")
    ]
    registry: Registry[Any] = Registry().with_resources(resources)
    schema = table(schema_name)
    return Draft202012Validator(schema, registry=registry, format_checker=FormatChecker())


def test_every_file_is_listed() -> None:
    assert {p.name for p in VOCABULARY.glob("*.json")} == set(TABLES) | set(TABLES.values())


@pytest.mark.parametrize("schema_name", sorted(set(TABLES.values())))
def test_schemas_are_draft_2020_12(schema_name: str) -> None:
    schema = table(schema_name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"{BASE_URI}vocabulary/{schema_name}"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize(("data_name", "schema_name"), TABLES.items())
def test_tables_are_valid(data_name: str, schema_name: str) -> None:
    data = table(data_name)
    assert data["$schema"] == f"./{schema_name}"
    errors = [e.message for e in validator(schema_name).iter_errors(data)]
    assert errors == []


@pytest.mark.parametrize(
    ("data_name", "schema_name", "path", "bad"),
    [
        ("olp-event-types.json", "olp-event-types.schema.json", ("entersState",), "parked"),
        ("olp-to-upu-emsevt.json", "olp-to-upu-emsevt.schema.json", ("code",), None),
        ("olp-to-upu-emsevt.json", "olp-to-upu-emsevt.schema.json", ("match",), "none"),
        ("olp-to-gs1-cbv.json", "olp-to-gs1-cbv.schema.json", ("disposition",), None),
        ("olp-to-gs1-cbv.json", "olp-to-gs1-cbv.schema.json", ("location",), "in_a_van"),
    ],
)
def test_schemas_refuse_a_broken_row(
    data_name: str, schema_name: str, path: tuple[str, ...], bad: Any
) -> None:
    data = table(data_name)
    rows = data.get("eventTypes") or data["mappings"]
    # The ready_for_pickup row has a code, a state, a step: each edit breaks a rule.
    row = next(r for r in rows if "parcel.ready_for_pickup" in (r.get("type"), r.get("eventType")))
    row[path[0]] = bad
    assert list(validator(schema_name).iter_errors(data))


def test_event_types_are_the_sdk_types_in_order() -> None:
    listed = [t["type"] for t in table("olp-event-types.json")["eventTypes"]]
    assert listed == list(OLP_EVENT_TYPES)
    parcel_types = {str(t) for t in WebhookEventType if not t.is_network_event}
    assert parcel_types | {PICKUP_REMINDER} == set(listed)


def test_event_types_name_the_state_they_enter_and_terminal_ones() -> None:
    for row in table("olp-event-types.json")["eventTypes"]:
        if row["type"] == PICKUP_REMINDER:
            assert row["entersState"] is None
            assert not row["terminal"]
            continue
        state = ParcelState(row["entersState"])
        assert row["type"] == str(WebhookEventType.entering(state))
        assert row["terminal"] is (state in TERMINAL_STATES), row["type"]


def reachable(start: ParcelState, direction: Direction) -> set[ParcelState]:
    """The states a parcel of `direction` can reach, by the domain's transition tables."""
    table_ = dict(TRANSITIONS)
    if direction is Direction.FIRST_MILE:
        table_.update(FIRST_MILE_TRANSITIONS)
    seen, todo = {start}, [start]
    while todo:
        state = todo.pop()
        for (source, _), (target, _) in table_.items():
            if source is state and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_directions_follow_the_domain() -> None:
    last = reachable(ParcelState.ANNOUNCED, Direction.LAST_MILE)
    first = reachable(ParcelState.DROPOFF_ANNOUNCED, Direction.FIRST_MILE)
    for row in table("olp-event-types.json")["eventTypes"]:
        if row["entersState"] is None:
            assert row["direction"] == "last_mile"  # reminders are for recipients
            continue
        state = ParcelState(row["entersState"])
        expected = {(True, True): "both", (True, False): "last_mile", (False, True): "first_mile"}
        assert row["direction"] == expected[(state in last, state in first)], row["type"]


@pytest.mark.parametrize("name", ["olp-to-upu-emsevt.json", "olp-to-gs1-cbv.json"])
def test_mappings_cover_every_event_type_exactly_once(name: str) -> None:
    counts = Counter(row["eventType"] for row in table(name)["mappings"])
    assert set(counts) == set(OLP_EVENT_TYPES)
    assert [t for t, n in counts.items() if n != 1] == []


def test_emsevt_mapping_uses_only_listed_codes() -> None:
    known = codes("upu-emsevt-events.json")
    used = {r["code"] for r in table("olp-to-upu-emsevt.json")["mappings"] if r["code"]}
    assert used <= known
    assert {"EDH", "EMI", "EMA"} <= used  # the exact ones a locker sees


def test_cbv_mapping_uses_only_listed_terms() -> None:
    steps, dispositions = codes("cbv-business-steps.json"), codes("cbv-dispositions.json")
    mapped = [r for r in table("olp-to-gs1-cbv.json")["mappings"] if r["bizStep"]]
    assert {r["bizStep"] for r in mapped} <= steps
    assert {r["disposition"] for r in mapped} <= dispositions
    unmapped = {r["eventType"] for r in table("olp-to-gs1-cbv.json")["mappings"]} - {
        r["eventType"] for r in mapped
    }
    assert unmapped == {PICKUP_REMINDER}


def test_cbv_code_lists_carry_their_uris() -> None:
    for name, kind in (("cbv-business-steps.json", "BizStep"), ("cbv-dispositions.json", "Disp")):
        for code in table(name)["codes"]:
            assert code["uri"] == f"https://ref.gs1.org/cbv/{kind}-{code['code']}"


# ---- SPEC.md §12 shows the same tables ------------------------------------------------------


def spec_event_types(text: str = SPEC_MD) -> list[dict[str, Any]]:
    return [
        {
            "type": code_token(row["event type"]),
            "entersState": code_token(row["enters state"]),
            "direction": row["direction"],
            "terminal": {"yes": True, "no": False}[row["terminal"]],
            "description": row["meaning"],
        }
        for row in markdown_table(text, "event type")
    ]


def spec_emsevt(text: str = SPEC_MD) -> list[dict[str, Any]]:
    names = {c["code"]: c["name"] for c in table("upu-emsevt-events.json")["codes"]}
    rows = []
    for row in markdown_table(text, "event → EMSEVT"):
        code = code_token(row["code"])
        if code is not None:
            assert row["code"] == f"`{code}` ({names[code]})"
        published: dict[str, Any] = {
            "eventType": code_token(row["event → EMSEVT"]),
            "code": code,
            "match": row["match"],
        }
        if row["note"]:
            published["note"] = row["note"]
        rows.append(published)
    return rows


def spec_cbv(text: str = SPEC_MD) -> list[dict[str, Any]]:
    return [
        {
            "eventType": code_token(row["event → CBV"]),
            "bizStep": code_token(row["bizStep"]),
            "disposition": code_token(row["disposition"]),
            "location": code_token(row["location"]),
            "justification": row["why"],
        }
        for row in markdown_table(text, "event → CBV")
    ]


def test_spec_md_shows_the_event_types_table() -> None:
    assert spec_event_types() == table("olp-event-types.json")["eventTypes"]


def test_spec_md_shows_the_emsevt_table() -> None:
    assert spec_emsevt() == table("olp-to-upu-emsevt.json")["mappings"]


def test_spec_md_shows_the_cbv_table() -> None:
    assert spec_cbv() == table("olp-to-gs1-cbv.json")["mappings"]


def test_spec_md_comparison_notices_drift() -> None:
    edited = SPEC_MD.replace("| `storing` | `in_progress` |", "| `storing` | `available` |", 1)
    assert edited != SPEC_MD
    assert spec_cbv(edited) != table("olp-to-gs1-cbv.json")["mappings"]
    dropped = "\n".join(
        line for line in SPEC_MD.splitlines() if not line.startswith("| `parcel.expired`")
    )
    assert len(spec_event_types(dropped)) == len(OLP_EVENT_TYPES) - 1


def test_sections_stay_numbered_in_order() -> None:
    headings = [line for line in SPEC_MD.splitlines() if line.startswith("## ")]
    assert any(h.endswith(". Event vocabulary and carrier mappings") for h in headings)
    numbers = [int(h.split()[1].rstrip(".")) for h in headings]
    assert numbers == list(range(1, len(headings) + 1))


def test_files_are_tidy_json() -> None:
    for path in sorted(VOCABULARY.glob("*.json")):
        text = path.read_text(encoding="utf-8")
        assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n", path
