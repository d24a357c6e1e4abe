"""Reading answers into the gateway's wire models the way SPEC §1 asks of a receiver.

The wire models are closed (`extra="forbid"`) because the gateway must refuse unknown request
members. A client reads answers, and a newer network may add members and enum values within v1
at any time: unknown members are dropped and unknown enum values are kept as plain strings
("opaque": an unknown parcel state is not terminal and not actionable), so an older client
keeps working against a newer network.
"""

from __future__ import annotations

import functools
import types
import typing
from datetime import datetime
from enum import Enum
from inspect import isclass
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from gateway.client.errors import CarrierClientError

M = TypeVar("M", bound=BaseModel)

__all__ = ["UnreadableAnswer", "read", "read_list"]


class UnreadableAnswer(CarrierClientError, ValueError):
    """The answer is not JSON, lacks a member v1 guarantees, or has one of the wrong type."""


def read(model: type[M], data: Any, *, where: str = "") -> M:
    """`data` (parsed JSON) as `model`, ignoring what this version does not know."""
    if not isinstance(data, dict):
        raise UnreadableAnswer(f"{where or '/'}: expected an object, got {type(data).__name__}")
    if not where:
        try:  # the common case, ~7x faster: an answer of exactly this version
            return model.model_validate(data)
        except ValidationError:
            pass  # something newer, or something wrong: read it member by member
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        alias = info.alias or name
        if alias in data:
            fields[name] = _convert(info.annotation, data[alias], f"{where}/{alias}")
        elif info.is_required():
            raise UnreadableAnswer(f"{where}/{alias}: missing")
    # Every value was checked above; construct skips the closed-object check on purpose.
    return model.model_construct(**fields)


def read_list(model: type[M], data: Any, *, where: str = "") -> list[M]:
    if not isinstance(data, list):
        raise UnreadableAnswer(f"{where or '/'}: expected an array")
    return [read(model, item, where=f"{where}/{n}") for n, item in enumerate(data)]


def _convert(annotation: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return value
    if origin is typing.Annotated:
        return _convert(args[0], value, where)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        choices = [a for a in args if a is not type(None)]
        if len(choices) == 1:
            return _convert(choices[0], value, where)
        return _leaf(annotation, value, where)
    if origin is typing.Literal:
        if not isinstance(value, str) or not all(isinstance(a, str) for a in args):
            return _leaf(annotation, value, where)
        return value  # one of `args`, or a value a later 1.x added: opaque either way
    if origin is list:
        if not isinstance(value, list):
            raise UnreadableAnswer(f"{where}: expected an array")
        return [_convert(args[0], item, f"{where}/{n}") for n, item in enumerate(value)]
    if isclass(annotation) and issubclass(annotation, BaseModel):
        return read(annotation, value, where=where)
    if isclass(annotation) and issubclass(annotation, Enum):
        if not isinstance(value, str):
            raise UnreadableAnswer(f"{where}: expected a string")
        try:
            return annotation(value)
        except ValueError:
            return value  # a value a later 1.x added: opaque
    if annotation is datetime:
        parsed = _leaf(datetime, value, where)
        if parsed.tzinfo is None:
            raise UnreadableAnswer(f"{where}: timestamp without an offset")
        return parsed
    return _leaf(annotation, value, where)


def _leaf(annotation: Any, value: Any, where: str) -> Any:
    try:
        return _adapter(annotation).validate_python(value)
    except ValueError as err:  # pydantic's ValidationError is a ValueError
        raise UnreadableAnswer(f"{where}: {err}") from err


@functools.cache
def _adapter(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)
