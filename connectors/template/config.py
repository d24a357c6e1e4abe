"""The template connector's config: request templates, status table, inbound mapping, file.

Everything may come inline (the attachment's `config`) or from a mapping file named by
`mapping_file` (TOML or YAML): the file holds a carrier's vocabulary, the attachment adds
what differs per installation (usually the URL). A key given in both places is an error, so
nobody wonders which one won.
"""

from __future__ import annotations

import re
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from gateway.sdk.connectors import ConnectorConfig

__all__ = [
    "CarrierStatus",
    "FieldType",
    "HttpMethod",
    "InboundField",
    "InboundMapping",
    "TemplateConfig",
    "UnmappedPolicy",
    "load_mapping_file",
]

# RFC 6901: "" (the whole document) or "/"-separated tokens, "~" only as "~0" or "~1".
_POINTER = re.compile(r"^(/([^~/]|~[01])*)*$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Headers the engine or the auth plugin owns; a template must not fight them.
_RESERVED_HEADERS = {"content-type", "content-length", "host", "transfer-encoding"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UnmappedPolicy(StrEnum):
    """What `render` does with an event type the status table does not name."""

    SKIP = "skip"  # settle the delivery as skipped: the carrier has no word for it
    ERROR = "error"  # a dead letter: the table was meant to be complete


class HttpMethod(StrEnum):
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"


class FieldType(StrEnum):
    """A conversion for an inbound value the carrier sends in another JSON type."""

    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"


class CarrierStatus(_Strict):
    """The carrier's own status for one OLP event type; `extra` members join `status` too."""

    code: str = Field(min_length=1, max_length=200)
    text: str | None = Field(default=None, max_length=1000)
    extra: dict[str, JsonValue] = Field(default_factory=dict)

    @field_validator("extra")
    @classmethod
    def _no_shadowing(cls, value: dict[str, JsonValue]) -> dict[str, JsonValue]:
        clash = sorted({"code", "text"} & set(value))
        if clash:
            raise ValueError(f"extra must not redefine {', '.join(clash)}")
        return value

    def as_context(self) -> dict[str, Any]:
        """What templates see as `status`: code, text and the extra members."""
        return {"code": self.code, "text": self.text, **self.extra}


class InboundField(_Strict):
    """Where one member of the announcement comes from: a pointer, or a constant `value`."""

    pointer: str | None = Field(default=None, description="RFC 6901 pointer into the body.")
    value: JsonValue = None
    required: bool = False
    default: JsonValue = None
    values: dict[str, JsonValue] | None = Field(
        default=None, description="The carrier's value -> ours; any other value is refused."
    )
    type: FieldType | None = None

    @field_validator("pointer")
    @classmethod
    def _is_pointer(cls, value: str | None) -> str | None:
        if value is not None and not _POINTER.fullmatch(value):
            raise ValueError(f"{value!r} is not a JSON pointer (RFC 6901), e.g. /shipment/id")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> InboundField:
        if (self.pointer is None) == (self.value is None):
            raise ValueError("give exactly one of pointer (read the body) or value (a constant)")
        if self.value is not None and (self.required or self.default is not None or self.values):
            raise ValueError("a constant value takes no required, default or values")
        if self.required and self.default is not None:
            raise ValueError("a required field has no default")
        return self


class InboundMapping(_Strict):
    """The carrier's shipment JSON -> a `POST /v1/parcels` body, member by member.

    Keys name the announcement's members; a dotted key fills a nested one
    (`dimensionsMm.length`).
    """

    fields: dict[str, InboundField] = Field(min_length=1)


class TemplateConfig(ConnectorConfig):
    """A carrier's HTTP API described as data; see docs/connectors/template.md."""

    mapping_file: Path | None = None
    description: str | None = Field(default=None, max_length=500)
    url: str | None = Field(default=None, description="Template; every {{ }} is URL-encoded.")
    method: HttpMethod = HttpMethod.POST
    headers: dict[str, str] = Field(default_factory=dict, description="Value templates.")
    content_type: str = Field(default="application/json", pattern=r"^[\w.+-]+/[\w.+-]+")
    body: str | None = Field(default=None, description="Body template (Jinja2, sandboxed).")
    statuses: dict[str, CarrierStatus] = Field(default_factory=dict)
    unmapped: UnmappedPolicy = UnmappedPolicy.SKIP
    status_body: str | None = Field(
        default=None, description="Template of the status-pull answer (a JSON object)."
    )
    inbound: InboundMapping | None = None

    @model_validator(mode="before")
    @classmethod
    def _merge_mapping_file(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("mapping_file") is None:
            return data
        loaded = load_mapping_file(Path(data["mapping_file"]))
        both = sorted(set(loaded) & (set(data) - {"mapping_file"}))
        if both:
            raise ValueError(
                f"mapping_file {data['mapping_file']} and the inline config both set "
                f"{', '.join(both)}; set each key in one place"
            )
        return {**loaded, **data}

    @field_validator("statuses", mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        # `"parcel.picked_up" = "delivered"` is short for `{ code = "delivered" }`.
        if isinstance(value, dict):
            return {k: {"code": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("headers")
    @classmethod
    def _header_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a valid HTTP header name")
            if name.lower() in _RESERVED_HEADERS:
                raise ValueError(f"header {name!r} is set by the gateway (use content_type)")
        return value

    @property
    def is_json(self) -> bool:
        media = self.content_type.split(";", 1)[0].strip().lower()
        return media == "application/json" or media.endswith("+json")


def load_mapping_file(path: Path) -> dict[str, Any]:
    """A mapping file's table; ValueError saying which file and what is wrong with it."""
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".yaml", ".yml"):
        raise ValueError(f"mapping file {path}: use a .toml, .yaml or .yml file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"mapping file {path} cannot be read: {err}") from err
    try:
        loaded: Any = tomllib.loads(text) if suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as err:
        raise ValueError(f"mapping file {path} is not valid {suffix[1:].upper()}: {err}") from err
    if not isinstance(loaded, dict):
        raise ValueError(f"mapping file {path} must hold a table of settings at the top")
    if "mapping_file" in loaded:
        raise ValueError(f"mapping file {path} must not name another mapping_file")
    return loaded
