"""Reduce a JSON schema and a pydantic model to comparable shapes and list their differences."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from referencing import Registry, Resource
from referencing._core import Resolver
from referencing.jsonschema import DRAFT202012

from gateway.spec import Spec, uri
from gateway.wire import WireModel

_NO_DEFAULT = object()
_MODEL_URI = "urn:openlocker:model"


@dataclass
class Shape:
    """What both sides must agree on at one place of the message."""

    types: set[str] = field(default_factory=set)
    enum: set[Any] | None = None
    format: str | None = None
    props: dict[str, Shape] = field(default_factory=dict)
    required: set[str] = field(default_factory=set)
    items: Shape | None = None
    values: Shape | None = None  # the value schema of a map (additionalProperties: {...})
    default: Any = _NO_DEFAULT
    absent: set[str] = field(default_factory=set)  # members ruled out by "not": {"required"}


def schema_shape(spec: Spec, name: str) -> Shape:
    return _shape(spec.schema(name), spec.registry.resolver(base_uri=uri(name)))


def model_shape(model: type[WireModel]) -> Shape:
    schema = model.model_json_schema(by_alias=True, mode="validation")
    registry: Registry[Any] = Registry().with_resource(
        _MODEL_URI, Resource.from_contents(schema, default_specification=DRAFT202012)
    )
    return _shape(schema, registry.resolver(base_uri=_MODEL_URI))


def differences(published: Shape, model: Shape, where: str = "") -> list[str]:
    """Human-readable disagreements; empty when the model carries the schema faithfully."""
    out: list[str] = []
    at = where or "/"
    if published.types != model.types:
        out.append(f"{at}: types {sorted(published.types)} != {sorted(model.types)}")
    if published.enum != model.enum:
        out.append(f"{at}: enum {published.enum} != {model.enum}")
    if "date-time" in (published.format, model.format) and published.format != model.format:
        out.append(f"{at}: format {published.format} != {model.format}")
    if published.default is not _NO_DEFAULT and published.default != model.default:
        out.append(f"{at}: default {published.default!r} != {model.default!r}")
    if set(published.props) != set(model.props):
        out.append(f"{at}: members {sorted(published.props)} != {sorted(model.props)}")
    if not model.required <= published.required:
        out.append(f"{at}: model requires {sorted(model.required - published.required)}")
    for name in sorted(published.required - model.required):
        default = model.props[name].default if name in model.props else None
        if default is _NO_DEFAULT or default is None:
            out.append(f"{at}: schema requires {name}, the model may leave it out")
    for name in sorted(set(published.props) & set(model.props)):
        mine = model.props[name]
        if name not in model.required and mine.default is None:
            # None is omitted on the wire, never sent as null.
            mine = replace(mine, types=mine.types - {"null"})
        out.extend(differences(published.props[name], mine, f"{where}/{name}"))
    for attr in ("items", "values"):
        theirs, ours = getattr(published, attr), getattr(model, attr)
        if (theirs is None) != (ours is None):
            out.append(f"{at}: {attr} {theirs} != {ours}")
        elif theirs is not None and ours is not None:
            out.extend(differences(theirs, ours, f"{where}/{attr}"))
    return out


def _shape(node: Any, resolver: Resolver[Any]) -> Shape:
    if not isinstance(node, dict):
        return Shape()  # `true`: anything
    if "$ref" in node:
        resolved = resolver.lookup(node["$ref"])
        shape = _shape(resolved.contents, resolved.resolver)
        if "default" in node:
            shape.default = node["default"]
        return shape
    alternatives = node.get("anyOf") or node.get("oneOf")
    if alternatives and not all(set(a) == {"required"} for a in alternatives):
        shape = _union([_shape(a, resolver) for a in alternatives])
    else:
        shape = Shape()
    declared = node.get("type")
    if declared is not None:
        shape.types |= set(declared) if isinstance(declared, list) else {declared}
    if "const" in node:
        shape.enum = {node["const"]}
    elif "enum" in node:
        shape.enum = set(node["enum"])
    if shape.enum is not None and not shape.types:
        shape.types = {_json_type(v) for v in shape.enum}
    shape.format = node.get("format", shape.format)
    if "default" in node:
        shape.default = node["default"]
    if "properties" in node:
        shape.props = {k: _shape(v, resolver) for k, v in node["properties"].items()}
        shape.required = set(node.get("required", ()))
    if "items" in node:
        shape.items = _shape(node["items"], resolver)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and extra:
        shape.values = _shape(extra, resolver)
    forbidden = node.get("not")
    if isinstance(forbidden, dict) and set(forbidden) == {"required"}:
        shape.absent |= set(forbidden["required"])  # a member the schema rules out
    # olp-message-*.json: allOf [envelope.json, {const kind and action, a payload schema}].
    for part in node.get("allOf", ()):
        shape = _both(shape, _shape(part, resolver))
    return shape


def _both(base: Shape, narrower: Shape) -> Shape:
    """What an instance valid against both shapes looks like (the two parts of an allOf)."""
    absent = base.absent | narrower.absent
    props = {k: v for k, v in base.props.items() if k not in absent}
    for name, prop in narrower.props.items():
        if name not in absent:
            props[name] = _both(props[name], prop) if name in props else prop
    items = base.items if narrower.items is None else narrower.items
    if base.items is not None and narrower.items is not None:
        items = _both(base.items, narrower.items)
    values = base.values if narrower.values is None else narrower.values
    if base.values is not None and narrower.values is not None:
        values = _both(base.values, narrower.values)
    enums = [e for e in (base.enum, narrower.enum) if e is not None]
    return Shape(
        types=(base.types & narrower.types)
        if base.types and narrower.types
        else base.types | narrower.types,
        enum=set.intersection(*enums) if enums else None,
        format=narrower.format or base.format,
        props=props,
        required=(base.required | narrower.required) - absent,
        items=items,
        values=values,
        default=base.default if narrower.default is _NO_DEFAULT else narrower.default,
        absent=absent,
    )


def _union(shapes: list[Shape]) -> Shape:
    merged = Shape()
    for s in shapes:
        merged.types |= s.types
        merged.format = merged.format or s.format
        merged.props.update(s.props)
        merged.required |= s.required
        merged.items = merged.items or s.items
        merged.values = merged.values or s.values
    enums = [s.enum for s in shapes if s.types != {"null"}]
    if enums and all(e is not None for e in enums):
        merged.enum = set().union(*(e for e in enums if e is not None))
    return merged


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, str):
        return "string"
    return "number" if isinstance(value, float) else "null"
