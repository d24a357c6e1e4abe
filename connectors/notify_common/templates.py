"""Notification templates: shipped defaults, operator overrides per carrier and language.

Lookup order for one file (e.g. `ready_for_pickup.subject.txt`), first found wins:

1. `<template_dir>/<carrierId>/<language>/<file>`, for each candidate language;
2. `<template_dir>/<carrierId>/<file>` (the carrier's language-neutral default);
3. the shipped `<language>/<file>`, for each candidate language;
4. the shipped `en/<file>`.

Candidate languages are the recipient's (`pl-PL`, then `pl`) and then the attachment's
`default_language`. Templates run in Jinja2's sandbox; `.html` files are autoescaped.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from connectors.notify_common.context import sample_context
from gateway.sdk.connectors import ConnectorConfigError

__all__ = ["SHIPPED_LANGUAGES", "Found", "TemplateBook", "language_candidates"]

_SHIPPED = Path(str(files("connectors.notify_common") / "templates"))
SHIPPED_LANGUAGES = ("en", "pl", "de")
FALLBACK_LANGUAGE = "en"
# Folder names taken from events: a carrier id or language that is not a plain name is not
# looked up at all (no path can climb out of the template directory).
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SUFFIXES = (".txt", ".html")
_TEXT = SandboxedEnvironment(
    autoescape=False, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
)
_HTML = SandboxedEnvironment(
    autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
)


@dataclass(frozen=True, slots=True)
class Found:
    """A compiled template, where it came from and the language it is written in."""

    template: Template
    path: Path
    language: str | None  # None: a carrier's language-neutral default


def language_candidates(requested: str | None, default: str) -> list[str]:
    """`pl-PL` -> [`pl-PL`, `pl`, default]: the recipient's language first, then ours."""
    out: list[str] = []
    if requested:
        out.append(requested)
        out.append(requested.split("-", 1)[0])
    out.append(default)
    return list(dict.fromkeys(out))


class TemplateBook:
    """Every template a notifier may use, compiled (and test-rendered) at construction."""

    def __init__(self, *, template_dir: Path | None, sample: Mapping[str, Any]) -> None:
        if template_dir is not None and not template_dir.is_dir():
            raise ConnectorConfigError(f"template_dir {str(template_dir)!r} is not a directory")
        self._dir = template_dir
        self._compiled: dict[Path, Template] = dict(_shipped_templates())
        if template_dir is not None:
            for path in _template_files(template_dir):
                self._compiled[path] = _compile(path, sample)

    def has(self, name: str) -> bool:
        """Whether some shipped or operator template has this file name (any carrier)."""
        return any(path.name == name for path in self._compiled)

    def find(self, name: str, carrier_id: str, languages: Sequence[str]) -> Found | None:
        """The template `name` for this carrier, by the lookup order of the module docstring."""
        langs = [lang for lang in languages if _SAFE_NAME.match(lang)]
        places: list[tuple[Path, str | None]] = []
        if self._dir is not None and _SAFE_NAME.match(carrier_id):
            carrier = self._dir / carrier_id
            places += [(carrier / lang / name, lang) for lang in langs]
            places.append((carrier / name, None))
        places += [(_SHIPPED / lang / name, lang) for lang in [*langs, FALLBACK_LANGUAGE]]
        for path, lang in places:
            template = self._compiled.get(path)
            if template is not None:
                return Found(template, path, lang)
        return None


def _compile(path: Path, sample: Mapping[str, Any]) -> Template:
    env = _HTML if path.suffix == ".html" else _TEXT
    try:
        template = env.from_string(path.read_text(encoding="utf-8"))
        # A dry run with a full sample context: an unknown variable or a bad filter is a
        # start-up error, not a dead letter at the first parcel.
        template.render(sample)
    except (TemplateError, UnicodeDecodeError, OSError) as err:
        line = getattr(err, "lineno", None)
        where = f"{path}:{line}" if line else str(path)
        raise ConnectorConfigError(f"notification template {where}: {err}") from err
    return template


@functools.cache
def _shipped_templates() -> dict[Path, Template]:
    """The shipped templates, compiled and checked once per process (they never change)."""
    return {path: _compile(path, sample_context()) for path in _template_files(_SHIPPED)}


def _template_files(root: Path) -> Iterator[Path]:
    # Two levels: <lang>/<file> (shipped) or <carrier>/<file> and <carrier>/<lang>/<file>.
    for path in sorted(root.rglob("*")):
        depth = len(path.relative_to(root).parts)
        if path.is_file() and path.suffix in _SUFFIXES and depth <= 3:
            yield path
