"""The published OLP v1 schemas (schemas/v1), read once at start and compiled into validators."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import (  # type: ignore[import-untyped]
    Draft202012Validator,
    FormatChecker,
    ValidationError,
)
from jsonschema.validators import extend  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_DIR_ENV = "OLP_SPEC_DIR"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
# One problem list never grows past this: a hostile message must not make a huge error reply.
MAX_PROBLEMS = 10


class SpecError(Exception):
    """The spec directory is missing or holds a file that is not a valid JSON Schema."""


def default_spec_dir() -> Path:
    """`$OLP_SPEC_DIR`, else `<repo>/schemas/v1` next to this package's distribution folder."""
    configured = os.environ.get(SPEC_DIR_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "schemas" / "v1"


def _kebab(action: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", action).lower()


def payload_schema_name(kind: str, action: str) -> str:
    """File of one payload: `olp-open-compartment.json`, `olp-open-compartment-result.json`."""
    suffix = "-result" if kind == "result" else ""
    return f"olp-{_kebab(action)}{suffix}.json"


def message_schema_name(kind: str, action: str) -> str:
    """File of one whole message: `olp-message-boot[-result].json`, `olp-message-error.json`."""
    if kind == "error":
        return "olp-message-error.json"
    suffix = "-result" if kind == "result" else ""
    return f"olp-message-{_kebab(action)}{suffix}.json"


@lru_cache(maxsize=512)
def _ecma_regex(pattern: str) -> re.Pattern[str]:
    # JSON Schema patterns are ECMA-262: `$` is the very end of the string, whereas Python's `$`
    # also matches before a final newline, which would let "A01\n" through as a compartment code.
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern, re.ASCII)


def _pattern_keyword(
    validator: Any, pattern: str, instance: object, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if isinstance(instance, str) and not _ecma_regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


_Validator = extend(Draft202012Validator, validators={"pattern": _pattern_keyword})


def _is_date_time(instance: object) -> bool:
    # The schema's pattern fixes the shape; this rejects impossible dates such as month 13.
    if isinstance(instance, str):
        datetime.fromisoformat(instance.replace("z", "Z"))
    return True


_FORMATS = FormatChecker()
_FORMATS.checks("date-time", raises=ValueError)(_is_date_time)


def _dialectless(name: str, document: Any) -> Any:
    # jsonschema picks the validator class of a referenced file from its `$schema`, which would
    # swap our ECMA-262 `pattern` back for Python's; every file is 2020-12, so drop the marker.
    if not isinstance(document, dict):
        raise SpecError(f"{name} is not a JSON Schema object")
    dialect = document.get("$schema", DRAFT_2020_12)
    if dialect != DRAFT_2020_12:
        raise SpecError(f"{name} uses JSON Schema dialect {dialect}; OLP v1 is 2020-12 only")
    return {key: value for key, value in document.items() if key != "$schema"}


class Spec:
    """Compiled validators: the envelope and every `olp-*.json` schema present."""

    def __init__(self, *, spec_dir: Path, validators: Mapping[str, Any]) -> None:
        self.spec_dir = spec_dir
        self._validators = dict(validators)

    @classmethod
    def load(cls, spec_dir: Path | None = None) -> Spec:
        """Read and compile every schema of `spec_dir` (blocking: call once, at start)."""
        folder = (spec_dir or default_spec_dir()).resolve()
        envelope_file = folder / "envelope.json"
        if not envelope_file.is_file():
            raise SpecError(
                f"no envelope.json in {folder}: pass --spec-dir or set {SPEC_DIR_ENV} "
                "to the schemas/v1 folder of the OLP spec"
            )
        documents: dict[str, Any] = {}
        for path in sorted(folder.glob("*.json")):
            try:
                documents[path.name] = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise SpecError(f"cannot read schema {path}: {err}") from err
        # The files carry no `$id`: each is registered under its own file URI so that the
        # relative refs between them ("common.json#/$defs/DateTime") resolve from memory.
        registry: Registry[Any] = Registry().with_resources(
            ((folder / name).as_uri(), Resource.from_contents(_dialectless(name, doc), DRAFT202012))
            for name, doc in documents.items()
        )

        def compile_one(name: str) -> Any:
            try:
                _Validator.check_schema(documents[name])
            except Exception as err:
                raise SpecError(f"{name} is not a valid JSON Schema: {err}") from err
            # A `$ref` wrapper gives the root its file URI, the base of its relative refs.
            root = {"$ref": (folder / name).as_uri()}
            return _Validator(root, registry=registry, format_checker=_FORMATS)

        names = ["envelope.json", *(n for n in documents if n.startswith("olp-"))]
        return cls(spec_dir=folder, validators={name: compile_one(name) for name in names})

    def envelope_problems(self, message: object) -> list[str]:
        """Why `message` is not a valid envelope; empty when it is."""
        return _problems(self._validators["envelope.json"], message)

    def message_problems(self, message: object) -> list[str]:
        """Why `message` breaks the spec; empty when valid.

        The envelope first (its errors are the clearest), then the one `olp-message-*.json`
        schema its kind and action name; without that file, the `olp-<action>.json` payload
        schema; a message the spec has no schema for is checked as an envelope only.
        """
        problems = self.envelope_problems(message)
        if problems or not isinstance(message, dict):
            return problems
        kind, action = message["kind"], message["action"]
        whole = self._validators.get(message_schema_name(kind, action))
        if whole is not None:
            return _problems(whole, message)
        part = self._validators.get(payload_schema_name(kind, action))
        if part is not None and kind != "error":
            return _problems(part, message.get("payload"), prefix="/payload")
        return []

    @property
    def schema_files(self) -> list[str]:
        """The `olp-*.json` schema files found at load time."""
        return sorted(name for name in self._validators if name.startswith("olp-"))


class OutgoingCheck:
    """Which of its own messages a locker validates against the spec before sending them.

    `every` (the default) checks each one. `first` checks the first message of each kind and
    action per bank and trusts the rest: every locker builds them with the same code, so after
    one passes the others differ only in values; a fleet of 10,000 lockers would otherwise
    spend a third of its CPU re-proving that.
    """

    MODES = ("every", "first")

    def __init__(self, spec: Spec, mode: str = "every") -> None:
        if mode not in self.MODES:
            raise ValueError(f"outgoing check {mode!r}: expected one of {', '.join(self.MODES)}")
        self._spec = spec
        self._every = mode == "every"
        self._passed: set[tuple[object, object]] = set()

    def problems(self, message: dict[str, Any]) -> list[str]:
        """Why `message` must not be sent; empty when it may."""
        if self._every:
            return self._spec.message_problems(message)
        key = (message.get("kind"), message.get("action"))
        if key in self._passed:
            return []
        problems = self._spec.message_problems(message)
        if not problems:
            self._passed.add(key)
        return problems


class ReplyCheck:
    """Which replies to its own calls a locker validates against the spec on receipt.

    `every` (the default) checks each one, envelope and message: the emulator is a conformance
    tool. `first` checks the first reply of each kind and action per bank in full and, after
    one passed, only the members the locker reads to route the rest (kind, id, corr, src,
    seq): the gateway builds them with the same code, so the others differ only in values. A
    fleet of 10,000 lockers spent ~17 % of its CPU validating replies (bench/boot_storm.py
    passes `--check-replies first`). Commands are always checked in full: a locker acts on
    them.
    """

    MODES = ("every", "first")

    def __init__(self, spec: Spec, mode: str = "every") -> None:
        if mode not in self.MODES:
            raise ValueError(f"reply check {mode!r}: expected one of {', '.join(self.MODES)}")
        self._spec = spec
        self._every = mode == "every"
        self._passed: set[tuple[object, object]] = set()

    def envelope_problems(self, message: object) -> list[str]:
        if not self._every and self._trusted(message):
            return _routing_problems(message)
        return self._spec.envelope_problems(message)

    def message_problems(self, message: dict[str, Any]) -> list[str]:
        if not self._every and self._trusted(message):
            return []
        problems = self._spec.message_problems(message)
        if not problems and not self._every:
            self._passed.add((message.get("kind"), message.get("action")))
        return problems

    def _trusted(self, message: object) -> bool:
        return isinstance(message, dict) and (
            (message.get("kind"), message.get("action")) in self._passed
        )


def _routing_problems(message: object) -> list[str]:
    """The members a reply is routed by, of the right types (the rest is trusted)."""
    if not isinstance(message, dict):
        return ["not an object"]
    return [
        f"at /{name}: missing or not a {kind.__name__}"
        for name, kind in (("kind", str), ("id", str), ("corr", str), ("src", str), ("seq", int))
        if not isinstance(message.get(name), kind)
    ]


def _problems(validator: Any, instance: object, *, prefix: str = "") -> list[str]:
    found: list[str] = []
    for error in validator.iter_errors(instance):
        pointer = prefix + "".join(f"/{part}" for part in error.absolute_path)
        found.append(f"at {pointer or '/'}: {error.message}"[:300])
        if len(found) >= MAX_PROBLEMS:
            break
    return sorted(found)
