"""The published OLP v1 spec as the gateway serves it: the shared compiled schemas (from
`gateway.sdk.schemas`, loaded once per process) and every published file, kept in memory."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from referencing import Registry

from gateway.errors import FieldIssue, NotFound
from gateway.sdk.schemas import (
    BASE_URI,
    Schemas,
    SpecLoadError,
    default_spec_dir,
    load_schemas,
    pointer,
    uri,
)

__all__ = ["BASE_URI", "DEFAULT_SPEC_DIR", "Spec", "SpecFile", "SpecLoadError", "pointer", "uri"]

DEFAULT_SPEC_DIR = default_spec_dir()

_MEDIA_TYPES = {
    ".json": "application/schema+json",
    ".yaml": "application/yaml",
    ".md": "text/markdown; charset=utf-8",
}


@dataclass(frozen=True, slots=True)
class SpecFile:
    """One published file, kept in memory for GET /v1/spec/{file}."""

    name: str
    content: bytes
    media_type: str


class Spec:
    """The schemas of one spec directory and its published files; get it from `Spec.load()`."""

    def __init__(self, *, schemas: Schemas, files: Mapping[str, SpecFile]) -> None:
        self._schemas = schemas
        self._files = MappingProxyType(dict(files))

    @classmethod
    def load(cls, spec_dir: Path | None = None) -> Spec:
        """The spec of `spec_dir` (default: this installation's v1), loaded once per process."""
        return _load((spec_dir or DEFAULT_SPEC_DIR).resolve())

    @property
    def schemas(self) -> Schemas:
        """The compiled schemas, the same object `gateway.sdk.schemas.load_schemas` returns."""
        return self._schemas

    @property
    def spec_dir(self) -> Path:
        return self._schemas.spec_dir

    @property
    def names(self) -> tuple[str, ...]:
        """Schema names, i.e. file stems such as "parcel" or "create-parcel-request"."""
        return self._schemas.names

    @property
    def registry(self) -> Registry[Any]:
        return self._schemas.registry

    def schema(self, name: str) -> Mapping[str, Any]:
        return self._schemas.schema(name)

    def issues(self, schema: str, instance: object) -> tuple[FieldIssue, ...]:
        """Everything wrong with `instance`, one issue per field, sorted by pointer."""
        return self._schemas.issues(schema, instance)

    def validate(self, schema: str, instance: object) -> None:
        """Raise ValidationFailed with JSON-pointer issues unless `instance` matches `schema`.

        `schema` is a name from `names`, or "<name>#/$defs/<Def>" for a shared definition.
        """
        self._schemas.validate(schema, instance)

    def published_files(self) -> Mapping[str, bytes]:
        """Every top-level file of the spec dir (schemas, openapi.yaml, SPEC.md) by name."""
        return MappingProxyType({name: f.content for name, f in self._files.items()})

    def file(self, name: str) -> SpecFile:
        """A published file by name, e.g. "openapi.yaml"; NotFound for anything else."""
        try:
            return self._files[name]
        except KeyError:
            raise NotFound(f"no spec file named {name!r}") from None


@functools.cache
def _load(spec_dir: Path) -> Spec:
    schemas = load_schemas(spec_dir)  # checks the directory and every schema first
    files: dict[str, SpecFile] = {}
    for path in sorted(spec_dir.iterdir()):
        media_type = _MEDIA_TYPES.get(path.suffix)
        if path.is_file() and media_type is not None:
            files[path.name] = SpecFile(path.name, path.read_bytes(), media_type)
    return Spec(schemas=schemas, files=files)
