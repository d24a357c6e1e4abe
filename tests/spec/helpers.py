"""Paths and loaders for the spec files and their examples."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from gateway.spec import DEFAULT_SPEC_DIR
from gateway.wire import LIBRARY_SCHEMAS

SPEC_DIR = DEFAULT_SPEC_DIR
SCHEMA_FILES = sorted(SPEC_DIR.glob("*.json"))
MESSAGE_SCHEMAS = sorted(p.stem for p in SCHEMA_FILES if p.stem not in LIBRARY_SCHEMAS)


def example_files(kind: str) -> list[Path]:
    """All example files under examples/ or examples-invalid/, one directory per schema."""
    return sorted((SPEC_DIR / kind).glob("*/*.json"))


def example_id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def markdown_table(text: str, first_header: str) -> list[dict[str, str]]:
    """The rows of the first markdown table whose first header cell is `first_header`."""
    blocks: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.startswith("|"):
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    for block in blocks:
        if len(block) < 2:
            continue
        header = _cells(block[0])
        if header[0] != first_header:
            continue
        assert set(block[1]) <= set("|-: "), "second line must be the separator"
        return [dict(zip(header, _cells(line), strict=True)) for line in block[2:]]
    raise AssertionError(f"no table starting with {first_header!r}")


def code_token(cell: str) -> str | None:
    """The first `code` span of a cell, or None for "—"."""
    match = re.search(r"`([^`]+)`", cell)
    if match:
        return match.group(1)
    assert cell.strip() in ("—", ""), f"cell {cell!r} has neither a value nor —"
    return None


def _cells(line: str) -> list[str]:
    # "\|" is a pipe inside a cell (`Accepted\|Pending`), not a column border.
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
