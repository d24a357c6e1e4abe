"""Base of the wire models: explicit aliases, closed objects, RFC 3339 UTC timestamps, dump()."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    PlainSerializer,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
)


def _require_utc(value: datetime) -> datetime:
    # A naive timestamp is a bug upstream (often SQLite handing back a bare value); guessing
    # its zone would silently shift deadlines, so refuse it.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp has no UTC offset")
    return value.astimezone(UTC)


def _rfc3339(value: datetime) -> str:
    text = _require_utc(value).isoformat()
    return text.removesuffix("+00:00") + "Z"


UtcDateTime = Annotated[
    datetime,
    AfterValidator(_require_utc),
    PlainSerializer(_rfc3339, return_type=str, when_used="json"),
]
"""An aware datetime, normalised to UTC, written as RFC 3339 with "Z"."""


class WireModel(BaseModel):
    """A message body. Optional members are left out when None; nullable ones are sent as null.

    A field is optional on the wire exactly when it has a default; a required field typed
    `X | None` is nullable and always emitted.
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid", serialize_by_alias=True)

    @model_serializer(mode="wrap")
    def _omit_absent(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        by_alias = info.by_alias is not False
        for name, alias in _optional_fields(type(self)):
            if getattr(self, name) is None:
                data.pop(alias if by_alias else name, None)
        return data


# Per model class, its optional fields as (name, wire key): every dump of every nested model
# walked all fields and asked pydantic `is_required()` of each (~2 % of the gateway's CPU per
# parcel lifecycle in py-spy, session 7); a class's fields do not change once it is built.
_OPTIONAL: dict[type[BaseModel], tuple[tuple[str, str], ...]] = {}


def _optional_fields(cls: type[BaseModel]) -> tuple[tuple[str, str], ...]:
    found = _OPTIONAL.get(cls)
    if found is None:
        found = tuple(
            (name, field.alias or name)
            for name, field in cls.model_fields.items()
            if not field.is_required()
        )
        _OPTIONAL[cls] = found
    return found


def dump(model: WireModel) -> dict[str, Any]:
    """The JSON-ready body of `model`: camelCase keys, enums as values, timestamps with "Z"."""
    data: dict[str, Any] = model.model_dump(mode="json", by_alias=True)
    return data
