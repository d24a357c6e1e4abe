"""Inbound pre-advice: a carrier's shipment JSON -> a `POST /v1/parcels` body, by JSON pointer.

Every problem names the field in the carrier's own document, and the announcement remembers
where each member came from, so the gateway's schema check can do the same. Texts never
repeat the carrier's values: a shipment may carry a recipient's personal data.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from gateway.sdk.connectors import (
    ConnectorConfigError,
    InboundRequest,
    MappingError,
    SourcedAnnouncement,
    announcement_schema,
)

from .config import FieldType, InboundField, InboundMapping

__all__ = ["InboundMapper"]

_INTEGER = re.compile(r"^-?[0-9]{1,18}$")
_MISSING = object()


class InboundMapper:
    """Checks the mapping against the published announcement schema once, then parses."""

    def __init__(self, mapping: InboundMapping) -> None:
        schema = announcement_schema()
        members = set(schema.get("properties", {}))
        for target in mapping.fields:
            top, _, rest = target.partition(".")
            if top not in members or not all(target.split(".")):
                known = ", ".join(sorted(members))
                raise ConnectorConfigError(
                    f"inbound.fields.{target}: no such announcement member (known: {known})"
                )
            if rest and top in mapping.fields:
                raise ConnectorConfigError(
                    f"inbound.fields.{target}: {top} is mapped as a whole already"
                )
        tops = {t.partition(".")[0] for t in mapping.fields}
        for name in schema.get("required", []):
            if name not in tops:
                raise ConnectorConfigError(f"inbound.fields: {name} must be mapped")
        alternatives = [set(a.get("required", [])) for a in schema.get("anyOf", [])]
        if alternatives and not any(alt <= tops for alt in alternatives):
            names = " or ".join("+".join(sorted(alt)) for alt in alternatives)
            raise ConnectorConfigError(f"inbound.fields: map {names}")
        self._fields = dict(mapping.fields)

    def parse(self, request: InboundRequest) -> SourcedAnnouncement:
        try:
            document = json.loads(request.body)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise MappingError("the body is not JSON", pointer="") from err
        members: dict[str, Any] = {}
        sources: dict[str, str] = {}
        problems: list[tuple[str, str]] = []
        for target, field in self._fields.items():
            path = target.split(".")
            if field.pointer is None:
                _put(members, path, field.value)
                continue
            sources["/" + "/".join(path)] = field.pointer
            value, problem = _take(document, field)
            if problem is not None:
                problems.append((problem[0], problem[1]))
            elif value is not _MISSING:
                _put(members, path, value)
        if problems:
            first = problems[0]
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise MappingError.many(
                f"the shipment cannot be mapped: {first[0]} {first[1]}{more}", problems
            )
        return SourcedAnnouncement(members, sources=sources)


def _take(document: Any, field: InboundField) -> tuple[Any, tuple[str, str] | None]:
    """The announcement value for `field`, _MISSING to leave it out, or (pointer, problem)."""
    assert field.pointer is not None
    value, problem = _resolve(document, field.pointer)
    if problem is not None:
        return None, problem
    if value is _MISSING or value is None:
        if field.required:
            return None, (field.pointer, "is required")
        return (_MISSING if field.default is None else field.default), None
    if field.type is not None:
        value = _convert(value, field.type)
        if value is _MISSING:
            return None, (field.pointer, f"must be a {field.type} value")
    if field.values is not None:
        key = _key(value)
        if key is None or key not in field.values:
            allowed = ", ".join(sorted(field.values))
            return None, (field.pointer, f"must be one of: {allowed}")
        value = field.values[key]
    return value, None


def _resolve(document: Any, pointer: str) -> tuple[Any, tuple[str, str] | None]:
    """Follow an RFC 6901 pointer: the value, _MISSING, or a parent that is no container."""
    node = document
    walked = ""
    for raw in pointer.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            node = node.get(token, _MISSING)
        elif isinstance(node, list):
            index = int(token) if token.isdigit() else len(node)
            node = node[index] if index < len(node) else _MISSING
        elif node is None:
            return _MISSING, None
        else:
            return None, (walked, "must be an object or an array")
        if node is _MISSING:
            return _MISSING, None
        walked += "/" + raw
    return node, None


def _convert(value: Any, kind: FieldType) -> Any:
    """`value` as `kind`, or _MISSING when it has no such reading."""
    if isinstance(value, bool):
        return value if kind is FieldType.BOOLEAN else _MISSING
    if kind is FieldType.BOOLEAN:
        words = {"true": True, "false": False}
        return words.get(value, _MISSING) if isinstance(value, str) else _MISSING
    if kind is FieldType.STRING:
        return str(value) if isinstance(value, str | int | float) else _MISSING
    if kind is FieldType.INTEGER:
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
            return int(value)
        return _MISSING
    if isinstance(value, int | float):
        return value
    try:
        number = float(value) if isinstance(value, str) else math.nan
    except ValueError:
        return _MISSING
    return number if math.isfinite(number) else _MISSING


def _key(value: Any) -> str | None:
    """A scalar as the key of a value map (TOML and YAML keys are strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int):
        return str(value)
    return None


def _put(members: dict[str, Any], path: list[str], value: Any) -> None:
    node = members
    for name in path[:-1]:
        node = node.setdefault(name, {})
    node[path[-1]] = value
