"""Secret references: a config value `env:NAME` or `file:/path` is read when the plugin is built.

Attachments store the reference, not the secret, so the database and `connectors list` never
hold the value; the value is read once, at build time, and a missing variable or unreadable
file is an `AuthConfigError` that names the field (and the variable or path), never a value.
A literal is stored sealed (`sealed:<kek-id>:<ciphertext>`, gateway/delivery/
attachment_secrets.py) and opened before the build, so one met here was not opened: refused,
never sent as if it were the secret.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, SecretStr

from gateway.delivery.auth.errors import AuthConfigError

__all__ = [
    "ENV_PREFIX",
    "FILE_PREFIX",
    "SEALED_FORM",
    "is_secret_reference",
    "resolve_model_secrets",
    "resolve_secret",
]

ENV_PREFIX = "env:"
FILE_PREFIX = "file:"
# kek ids hold no ':' (built-in: `kek-` + base64url); the ciphertext is base64url of at least
# nonce + tag (28 bytes). Only a string of exactly this form is a sealed value.
SEALED_FORM = re.compile(r"^sealed:([^:\s]+):([A-Za-z0-9_-]{38,})$")
# A secret file is small; anything bigger is a wrong path (a log file, a device).
_MAX_SECRET_FILE_BYTES = 64 * 1024

ModelT = TypeVar("ModelT", bound=BaseModel)


def is_secret_reference(value: SecretStr | str) -> bool:
    """Whether `value` is an `env:` or `file:` reference rather than a literal secret."""
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    return text.startswith((ENV_PREFIX, FILE_PREFIX))


def resolve_secret(
    value: SecretStr | str, *, field: str, environ: Mapping[str, str] | None = None
) -> SecretStr:
    """The secret `value` stands for: the variable's value, the file's content, or itself.

    A file's trailing line break is dropped (`echo secret > file` writes one). `field` is the
    dotted name used in errors, e.g. `auth.client_secret`; `environ` defaults to `os.environ`.
    """
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if text.startswith(ENV_PREFIX):
        name = text.removeprefix(ENV_PREFIX)
        if not name:
            raise AuthConfigError(field, "`env:` needs a variable name, e.g. env:CARRIER_SECRET")
        found = (os.environ if environ is None else environ).get(name)
        if found is None:
            raise AuthConfigError(field, f"environment variable {name} is not set")
        if not found:
            raise AuthConfigError(field, f"environment variable {name} is empty")
        return SecretStr(found)
    if text.startswith(FILE_PREFIX):
        return SecretStr(_read_secret_file(text.removeprefix(FILE_PREFIX), field=field))
    if not text:
        raise AuthConfigError(field, "is empty")
    if SEALED_FORM.match(text):
        raise AuthConfigError(field, "is a sealed value that was not opened (another row's?)")
    return SecretStr(text)


def _read_secret_file(path_text: str, *, field: str) -> str:
    if not path_text:
        raise AuthConfigError(field, "`file:` needs a path, e.g. file:/run/secrets/carrier")
    path = Path(path_text)
    try:
        with path.open("rb") as handle:
            raw = handle.read(_MAX_SECRET_FILE_BYTES + 1)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise AuthConfigError(field, f"cannot read secret file {path}: {reason}") from None
    if len(raw) > _MAX_SECRET_FILE_BYTES:
        raise AuthConfigError(
            field, f"secret file {path} is larger than {_MAX_SECRET_FILE_BYTES} bytes"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise AuthConfigError(field, f"secret file {path} is not UTF-8 text") from None
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        raise AuthConfigError(field, f"secret file {path} is empty")
    return text


def resolve_model_secrets(
    model: ModelT, *, prefix: str = "", environ: Mapping[str, str] | None = None
) -> ModelT:
    """A copy of `model` with every `SecretStr` (also in nested models, lists, tuples and
    dict values) resolved; errors name the field as `prefix` + its dotted path."""
    updates: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        resolved = _resolve_any(value, field=f"{prefix}{name}", environ=environ)
        if resolved is not value:
            updates[name] = resolved
    # model_copy skips validation, so a frozen model keeps its already-checked values.
    return model.model_copy(update=updates) if updates else model


def _resolve_any(value: Any, *, field: str, environ: Mapping[str, str] | None) -> Any:
    if isinstance(value, SecretStr):
        return resolve_secret(value, field=field, environ=environ)
    if isinstance(value, BaseModel):
        return resolve_model_secrets(value, prefix=f"{field}.", environ=environ)
    if isinstance(value, list | tuple):
        items = [
            _resolve_any(item, field=f"{field}.{index}", environ=environ)
            for index, item in enumerate(value)
        ]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return type(value)(items)
    if isinstance(value, dict):
        resolved = {
            key: _resolve_any(item, field=f"{field}.{key}", environ=environ)
            for key, item in value.items()
        }
        if all(resolved[key] is item for key, item in value.items()):
            return value
        return resolved
    return value
