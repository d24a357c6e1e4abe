"""The published OLP v1 JSON Schemas: found, loaded and compiled once per process.

Everything that checks a message against schemas/v1 (the HTTP edge, the OLP codec, connectors,
third-party adapters) shares the one `Schemas` that `load_schemas()` returns: each file is read
and checked once, every `$ref` is resolved from memory at load time, and each schema (and each
shared `$defs` entry) gets its validators compiled once.

Two validators per schema, one verdict: a compiled jsonschema-rs validator answers the common
case, a valid message, in microseconds; only a message it refuses goes through the Python
jsonschema validator, which is the authority and words each problem as a JSON-pointer issue
(a refusal it does not confirm is no refusal). Both use the same registry, the same ECMA-262
patterns and our own `date-time` and `olp-parcel-id` formats; tests/spec holds them to agree.

Where schemas/v1 lives: an installed wheel carries it as package data under `gateway/_schemas/v1`
(pyproject.toml maps the top-level `schemas/` directory there); a source checkout or an editable
install reads the repository's own top-level `schemas/v1`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jsonschema_rs
from jsonschema import (  # type: ignore[import-untyped]
    Draft202012Validator,
    FormatChecker,
    SchemaError,
    ValidationError,
)
from jsonschema.validators import extend  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from gateway.domain.s10 import looks_like_s10, s10_problem
from gateway.errors import FieldIssue, ValidationFailed

__all__ = [
    "BASE_URI",
    "Schemas",
    "SpecLoadError",
    "default_spec_dir",
    "load_schemas",
    "pointer",
    "uri",
]

# Schemas carry no `$id`; each file is registered under this base so that file-relative refs
# ("lifecycle.json#/$defs/ParcelState") resolve from memory, never from the network.
BASE_URI = "https://openlocker.dev/olp/v1/"

_PACKAGE = Path(__file__).resolve().parents[1]  # the installed (or checked-out) `gateway`
_INSTALLED_DIR = _PACKAGE / "_schemas" / "v1"  # package data of a wheel
_SOURCE_DIR = _PACKAGE.parent / "schemas" / "v1"  # a checkout or an editable install

_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_MAX_DETAIL = 200


class SpecLoadError(Exception):
    """The spec directory is missing, unreadable, or holds an invalid or dangling schema."""


def default_spec_dir() -> Path:
    """schemas/v1 of this installation: the wheel's package data, else the source tree's."""
    return _INSTALLED_DIR if _INSTALLED_DIR.is_dir() else _SOURCE_DIR


def load_schemas(spec_dir: Path | None = None) -> Schemas:
    """The schemas of `spec_dir` (default: `default_spec_dir()`), loaded once per process.

    Later calls for the same directory return the same object; a failed load is not cached.
    Raises SpecLoadError for a missing directory, a file that is not JSON, a `$ref` that does
    not resolve, and (for a directory other than the shipped one) a file that is not a valid
    2020-12 schema.
    """
    resolved = (spec_dir or default_spec_dir()).resolve()
    return _load(resolved, check_meta=resolved != default_spec_dir().resolve())


def uri(name: str) -> str:
    """The base URI a schema file is registered under, e.g. .../olp/v1/parcel.json."""
    return f"{BASE_URI}{_stem(name)}.json"


def pointer(path: Iterable[str | int]) -> str:
    """An RFC 6901 JSON pointer for a sequence of keys and indexes."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


class Schemas:
    """Every schema of one spec directory with its precompiled validators.

    Get it from `load_schemas()`; `validate` and `issues` take a schema name ("parcel",
    "parcel.json") or "<name>#/$defs/<Def>" for a shared definition.
    """

    def __init__(
        self,
        *,
        spec_dir: Path,
        schemas: Mapping[str, Mapping[str, Any]],
        registry: Registry[Any],
    ) -> None:
        self._spec_dir = spec_dir
        self._schemas = MappingProxyType(dict(schemas))
        self._registry = registry
        checker = _format_checker()
        targets = {name: uri(name) for name in schemas}
        for name, schema in schemas.items():
            for def_name in schema.get("$defs", {}):
                targets[f"{name}#/$defs/{def_name}"] = f"{uri(name)}#/$defs/{def_name}"
        # A wrapper `$ref` gives each validator its file's URI as base for relative refs.
        self._validators: Mapping[str, Any] = MappingProxyType(
            {
                target: _Validator({"$ref": ref}, registry=registry, format_checker=checker)
                for target, ref in targets.items()
            }
        )
        self._fast: Mapping[str, Any] = MappingProxyType(_compile_fast(schemas, targets))

    @property
    def spec_dir(self) -> Path:
        return self._spec_dir

    @property
    def names(self) -> tuple[str, ...]:
        """Schema names, i.e. file stems such as "parcel" or "create-parcel-request"."""
        return tuple(self._schemas)

    @property
    def registry(self) -> Registry[Any]:
        """Every schema by its URI (see `uri`), for tools that resolve refs themselves."""
        return self._registry

    def schema(self, name: str) -> Mapping[str, Any]:
        """The parsed schema file `name`, as published (shared: do not change it)."""
        return self._schemas[_stem(name)]

    def issues(self, schema: str, instance: object) -> tuple[FieldIssue, ...]:
        """Everything wrong with `instance`, one issue per field, sorted by pointer."""
        validator = self._validator(schema)
        if self._passes_fast(schema, instance):
            return ()
        found: dict[FieldIssue, str] = {}
        for error in validator.iter_errors(instance):
            found.update(dict.fromkeys(_issues_of(error), error.validator))
        # A failed format says it better than the regex that backs it up for other tools.
        formatted = {issue.pointer for issue, kind in found.items() if kind == "format"}
        kept = [i for i, kind in found.items() if kind != "pattern" or i.pointer not in formatted]
        return tuple(sorted(kept, key=lambda i: (i.pointer, i.detail)))

    def validate(self, schema: str, instance: object) -> None:
        """Raise ValidationFailed with JSON-pointer issues unless `instance` matches `schema`."""
        issues = self.issues(schema, instance)
        if not issues:
            return
        first = issues[0]
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        what = f"{first.pointer} {first.detail}" if first.pointer else first.detail
        raise ValidationFailed(f"invalid {_stem(schema)}: {what}{more}", issues=issues)

    def _passes_fast(self, schema: str, instance: object) -> bool:
        try:
            return bool(self._fast[_stem(schema)].is_valid(instance))
        except ValueError:  # a value JSON has no type for (a tuple, a datetime): ask Python
            return False

    def _validator(self, schema: str) -> Any:
        try:
            return self._validators[_stem(schema)]
        except KeyError:
            raise KeyError(f"no schema named {schema!r} in {self._spec_dir}") from None


# ---- loading ---------------------------------------------------------------------------------


@functools.cache
def _load(spec_dir: Path, *, check_meta: bool) -> Schemas:
    if not spec_dir.is_dir():
        raise SpecLoadError(f"spec directory {spec_dir} does not exist")
    schemas = {
        path.stem: _parse_schema(path, check_meta=check_meta)
        for path in sorted(spec_dir.glob("*.json"))
    }
    if not schemas:
        raise SpecLoadError(f"no schema files in {spec_dir}")
    registry: Registry[Any] = (
        Registry()
        .with_resources(
            (name, Resource.from_contents(contents, default_specification=DRAFT202012))
            for name, contents in _registered(schemas)
        )
        .crawl()
    )
    for name, schema in schemas.items():
        _check_refs(registry, name, schema)
    return Schemas(spec_dir=spec_dir, schemas=schemas, registry=registry)


def _compile_fast(
    schemas: Mapping[str, Mapping[str, Any]], targets: Mapping[str, str]
) -> dict[str, Any]:
    """A jsonschema-rs validator per target, over a registry of its own."""
    formats = _fast_formats(schemas)
    try:
        registry = jsonschema_rs.Registry(_registered(schemas))
        return {
            target: jsonschema_rs.validator_for(
                {"$ref": ref},
                registry=registry,
                formats=formats,
                validate_formats=True,
                offline=True,  # every $ref resolves from the registry, never the network
            )
            for target, ref in targets.items()
        }
    except (ValueError, jsonschema_rs.ReferencingError) as err:  # e.g. a bad `pattern` regex
        raise SpecLoadError(f"cannot compile the schemas: {err}") from err


def _registered(schemas: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Each schema under its URI. `$schema` is dropped from these copies: jsonschema would
    otherwise switch back to its stock validator class (without our `pattern`) at a `$ref`."""
    return [
        (uri(name), {k: v for k, v in schema.items() if k != "$schema"})
        for name, schema in schemas.items()
    ]


def _parse_schema(path: Path, *, check_meta: bool) -> dict[str, Any]:
    try:
        schema = json.loads(path.read_bytes())
        # Checking a file against the 2020-12 meta-schema is ~90 % of a load (~0.3 s for v1).
        # The shipped spec is checked by its tests (tests/spec/test_schema_files.py) before it
        # ships; any other directory, e.g. `spec_dir` in the settings, is checked here.
        if check_meta:
            _Validator.check_schema(schema)
    except (OSError, ValueError, SchemaError) as err:  # JSONDecodeError is a ValueError
        raise SpecLoadError(f"{path.name}: {getattr(err, 'message', err)}") from err
    if not isinstance(schema, dict):
        raise SpecLoadError(f"{path.name}: a schema file must hold a JSON object")
    if "$id" in schema:
        raise SpecLoadError(f"{path.name}: schemas must not set $id (refs are file-relative)")
    return dict(schema)


def _check_refs(registry: Registry[Any], name: str, schema: object) -> None:
    """Resolve every $ref now, so a dangling one fails the start-up rather than a request."""
    resolver = registry.resolver(base_uri=uri(name))
    for ref in _refs(schema):
        try:
            resolver.lookup(ref)
        except Unresolvable as err:
            raise SpecLoadError(f"{name}.json: cannot resolve $ref {ref!r}") from err


def _refs(schema: object) -> Iterator[str]:
    for node in _nodes(schema):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref


def _stem(name: str) -> str:
    base, sep, fragment = name.partition("#")
    return base.removesuffix(".json") + sep + fragment


# ---- the validator class: ECMA-262 patterns and our own formats --------------------------------


def _check_date_time(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    if not _RFC3339.fullmatch(instance):
        raise ValueError("is not an RFC 3339 date-time with offset")
    datetime.fromisoformat(instance.upper())  # rejects month 13, Feb 30, hour 24...
    return True


def _check_parcel_id(instance: object) -> bool:
    if isinstance(instance, str) and looks_like_s10(instance):
        problem = s10_problem(instance)
        if problem is not None:
            raise ValueError(problem)
    return True


@functools.lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    # ECMA-262 `$` matches only at the very end, Python's also before a final newline:
    # without this, "L1\n" would pass the LockerId pattern and reach an MQTT topic.
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(_ecma_classes(pattern))


# What ECMA-262 (and the fast validator) means by these escapes, as the inside of a class.
# Python's `re` reads them as Unicode classes (Arabic-Indic digits are `\d` to it), and its
# `\s` counts \x1c-\x1f and NEL but not the BOM. (`\b` is Unicode in both validators.)
_ECMA_CLASSES = {
    "d": "0-9",
    "w": "A-Za-z0-9_",
    "s": "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff",
}
_ECMA_ANY = "[^\n\r\u2028\u2029]"  # `.`: anything but a LineTerminator


def _ecma_classes(pattern: str) -> str:
    """`pattern` with its class escapes (d, w, s and their negations) and `.` spelled out as
    ECMA-262 means them."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            inside = _ECMA_CLASSES.get(escaped.lower())
            if inside is not None and escaped.islower():
                out.append(inside if in_class else f"[{inside}]")
            elif inside is not None and not in_class:
                out.append(f"[^{inside}]")
            else:  # a negated class escape inside a class stays Python's: none in v1 has one
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == ".":
            char = _ECMA_ANY
        out.append(char)
        i += 1
    return "".join(out)


def _pattern(validator: Any, pattern: str, instance: object, schema: object) -> Iterator[Any]:
    if validator.is_type(instance, "string") and not _compile(pattern).search(str(instance)):
        yield ValidationError(f"does not match {pattern}")


_Validator: Any = extend(Draft202012Validator, validators={"pattern": _pattern})


def _passes(check: Callable[[object], bool]) -> Callable[[str], bool]:
    def fast(value: str) -> bool:
        try:
            return check(value)
        except ValueError:
            return False

    return fast


# jsonschema-rs calls these (ours replace its own `date-time`) with strings only.
_FAST_FORMATS = {
    "date-time": _passes(_check_date_time),
    "olp-parcel-id": _passes(_check_parcel_id),
}


def _fast_formats(schemas: Mapping[str, Mapping[str, Any]]) -> dict[str, Callable[[str], bool]]:
    """Our formats, and every other format the schemas name as passing: the authority checks
    only ours (in 2020-12 `format` is an annotation unless a checker asserts it), and the fast
    validator must not refuse what the authority passes (`uri-reference` of problem.json)."""
    named = {node.get("format") for node in _nodes(schemas)}
    unchecked = {name: _any_string for name in named if isinstance(name, str)}
    return {**unchecked, **_FAST_FORMATS}  # ours replace the pass-through


def _any_string(value: str) -> bool:
    return True


def _nodes(node: object) -> Iterator[Mapping[str, Any]]:
    """Every JSON object in `node`, depth first."""
    if isinstance(node, Mapping):
        yield node
        for value in node.values():
            yield from _nodes(value)
    elif isinstance(node, list):
        for item in node:
            yield from _nodes(item)


def _format_checker() -> Any:
    checker = FormatChecker(formats=())  # only the formats we define, whatever is installed
    checker.checks("date-time", raises=ValueError)(_check_date_time)
    checker.checks("olp-parcel-id", raises=ValueError)(_check_parcel_id)
    return checker


# ---- errors as field issues ------------------------------------------------------------------


def _issues_of(error: Any) -> Iterator[FieldIssue]:
    """Translate one jsonschema error into issues that point at the offending member."""
    at = pointer(error.absolute_path)
    kind, value, instance = error.validator, error.validator_value, error.instance
    if kind == "required":
        for name in value:
            if isinstance(instance, dict) and name not in instance:
                yield FieldIssue(at + pointer([name]), "is required")
    elif kind == "additionalProperties" and isinstance(instance, dict):
        known = error.schema.get("properties", {})
        patterns = [_compile(p) for p in error.schema.get("patternProperties", {})]
        for name in instance:
            if name not in known and not any(p.search(name) for p in patterns):
                yield FieldIssue(at + pointer([name]), "is not an allowed member")
    elif kind == "not" and isinstance(value, dict) and set(value) == {"required"}:
        for name in value["required"]:
            yield FieldIssue(at + pointer([name]), "is not allowed here")
    elif kind in ("anyOf", "oneOf"):
        yield from _alternatives(error, at)
    elif "propertyNames" in error.absolute_schema_path and isinstance(instance, str):
        yield FieldIssue(at + pointer([instance]), f"member name {_detail(error)}")
    else:
        yield FieldIssue(at, _detail(error))


def _alternatives(error: Any, at: str) -> Iterator[FieldIssue]:
    context = list(error.context or ())
    if context and all(e.validator == "required" for e in context):
        names = ", ".join(n for e in context for n in e.validator_value)
        yield FieldIssue(at, f"needs one of: {names}")
        return
    relevant = [e for e in context if e.validator != "type"]
    if relevant:  # the value has a right type but breaks a rule of that alternative
        for sub in relevant:
            yield from _issues_of(sub)
        return
    types = sorted({t for e in context for t in _as_list(e.validator_value)})
    yield FieldIssue(at, f"must be of type {' or '.join(types) or 'another type'}")


_DETAILS = {
    "minLength": "must be at least {} characters long",
    "maxLength": "must be at most {} characters long",
    "minimum": "must be at least {}",
    "maximum": "must be at most {}",
    "exclusiveMinimum": "must be greater than {}",
    "exclusiveMaximum": "must be less than {}",
    "minItems": "must have at least {} items",
    "maxItems": "must have at most {} items",
    "uniqueItems": "must not contain duplicates",
    "pattern": "does not match {}",
}


def _detail(error: Any) -> str:
    """Our own wording: jsonschema's messages repeat the (possibly huge) offending value."""
    kind, value = error.validator, error.validator_value
    if kind == "type":
        text = f"must be of type {' or '.join(_as_list(value))}"
    elif kind == "enum" and len(value) > 8:
        text = f"is not one of the {len(value)} allowed values"
    elif kind == "enum":
        text = "must be one of: " + ", ".join(json.dumps(v) for v in value)
    elif kind == "minLength" and value == 1:
        text = "must not be empty"
    elif kind == "const":
        text = f"must be {json.dumps(value)}"
    elif kind == "format":
        text = str(error.cause) if error.cause else f"is not a valid {value}"
    elif kind in _DETAILS:
        text = _DETAILS[kind].format(value)
    else:
        text = str(error.message)
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


def _as_list(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]
