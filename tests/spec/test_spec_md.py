"""SPEC.md states exactly what the code does: transitions, error statuses, size classes."""

from __future__ import annotations

from gateway.domain.compartment import CompartmentEffect
from gateway.domain.enums import ParcelAction, ParcelState, SizeClass
from gateway.domain.parcel import FIRST_MILE_TRANSITIONS, TERMINAL_STATES, TRANSITIONS
from gateway.domain.sizes import STANDARD_SIZES
from gateway.errors import ErrorCode
from gateway.wire import HTTP_STATUS

from .helpers import SPEC_DIR, code_token, markdown_table

SPEC_MD = (SPEC_DIR / "SPEC.md").read_text(encoding="utf-8")

Key = tuple[ParcelState, ParcelAction]
Outcome = tuple[ParcelState, CompartmentEffect | None]


def published_transitions(first_header: str = "state") -> list[tuple[Key, Outcome]]:
    rows = markdown_table(SPEC_MD, first_header)
    result = []
    for row in rows:
        columns = (first_header, "action", "next state")
        state, action, target = (code_token(row[c]) for c in columns)
        assert state, row
        assert action, row
        assert target, row
        effect = code_token(row["compartment effect"])
        result.append(
            (
                (ParcelState(state), ParcelAction(action)),
                (ParcelState(target), None if effect is None else CompartmentEffect(effect)),
            )
        )
    return result


def test_transition_table_lists_exactly_the_domain_transitions() -> None:
    published = published_transitions()
    keys = [key for key, _ in published]
    assert len(keys) == len(set(keys)), "a transition is listed twice"
    assert dict(published) == TRANSITIONS


def test_first_mile_table_lists_exactly_its_overrides() -> None:
    assert dict(published_transitions("first-mile state")) == FIRST_MILE_TRANSITIONS


def test_table_parser_notices_a_missing_row() -> None:
    first_row = next(line for line in SPEC_MD.splitlines() if line.startswith("| `announced`"))
    rows = markdown_table(SPEC_MD.replace(first_row + "\n", ""), "state")
    assert len(rows) == len(TRANSITIONS) - 1


def test_terminal_states_are_named() -> None:
    paragraph = SPEC_MD.split("Terminal states:")[1].split(".")[0]
    assert {s.value for s in TERMINAL_STATES} == set(
        paragraph.replace("`", "").replace(",", " ").split()
    )


def test_error_table_matches_codes_and_statuses() -> None:
    rows = markdown_table(SPEC_MD, "code")
    published = {code_token(r["code"]): int(r["HTTP"]) for r in rows}
    assert published == {code.value: status for code, status in HTTP_STATUS.items()}
    assert len(rows) == len(ErrorCode)


def test_size_table_matches_the_domain() -> None:
    rows = markdown_table(SPEC_MD, "class")
    published = {}
    for row in rows:
        size, inside, weight = row.values()
        dims = tuple(int(x) for x in inside.split("\N{MULTIPLICATION SIGN}"))
        published[SizeClass(str(code_token(size)))] = (dims, int(weight))
    expected = {
        c: ((s.inside.width_mm, s.inside.height_mm, s.inside.depth_mm), s.max_weight_g)
        for c, s in STANDARD_SIZES.items()
    }
    assert published == expected
