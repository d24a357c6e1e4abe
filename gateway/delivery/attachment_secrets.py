"""Literal secrets in an attachment's `config`/`auth` are stored sealed: `sealed:<kek-id>:<ct>`.

Which values are secrets is what the plugins declare: every `pydantic.SecretStr` field of the
connector's `config_model` and of the auth plugin's config (nested models, lists and dict
values too), so a new plugin declares its own by typing its field. A literal at such a place
is sealed under the current KEK before the row is written, with the row's identity (attachment
id, column and the field's dotted path) as associated data; `env:`/`file:` references are not
secrets and stay as written. Sealed values are opened when a row is read to be built (KEK
providers are async, a KMS call; the build is not), so `resolve_secret` only ever meets
literals and references. Custody (`gateway.tokens.custody`) walks these rows too: at start-up
a literal left by an older version is sealed, and `openlocker keys rewrap` seals them anew.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from gateway.delivery.auth import parse_auth_config
from gateway.delivery.auth.secrets import SEALED_FORM, is_secret_reference
from gateway.errors import OpenLockerError
from gateway.sdk.connectors import load_connector_class
from gateway.store import ConnectorAttachmentRecord, UnitOfWork
from gateway.tokens.custody import RowsWalked
from gateway.tokens.sealing import Keyring, Sealed, row_aad

__all__ = [
    "REDACTED",
    "SEALED_PREFIX",
    "AttachmentSecrets",
    "is_sealed",
    "open_record",
    "redacted",
    "seal_record",
]

log = logging.getLogger(__name__)
SEALED_PREFIX = "sealed:"
REDACTED = "<sealed>"  # what `connectors show` prints for a sealed value
_SEALED = SEALED_FORM
Path = tuple[str | int, ...]


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and _SEALED.match(value) is not None


def _aad(attachment_id: str, column: str, path: Path) -> bytes:
    dotted = ".".join([column, *(str(p) for p in path)])
    return row_aad("connector_attachments", dotted, attachment_id)


async def open_record(
    keyring: Keyring, record: ConnectorAttachmentRecord
) -> ConnectorAttachmentRecord:
    """The record with every sealed value opened (in memory only); SealError if one does not."""
    if not any(is_sealed(v) for _, v in _strings(record.config)) and not any(
        is_sealed(v) for _, v in _strings(record.auth)
    ):
        return record  # the common case: nothing to open, no copy

    async def opened(column: str, path: Path, value: str) -> str:
        match = _SEALED.match(value)
        if match is None:
            return value
        box = Sealed(match.group(1), match.group(2))
        clear = await keyring.open(box, aad=_aad(record.id, column, path))
        return clear.decode("utf-8")

    config = await _mapped(record.config, "config", (), opened, lambda _p: True)
    auth = (
        None
        if record.auth is None
        else await _mapped(record.auth, "auth", (), opened, lambda _p: True)
    )
    return replace(record, config=config, auth=auth)


async def seal_record(
    keyring: Keyring, record: ConnectorAttachmentRecord, *, again: bool = False
) -> tuple[ConnectorAttachmentRecord, int]:
    """The record as it is stored, and how many values were sealed by this call.

    Every literal at a declared secret field is sealed; with `again`, a value sealed under
    another KEK than the current one is sealed anew. Sealed values must open (SealError).
    A record whose connector or auth does not validate (not installed, say) has no declared
    fields: it is returned as is, and said in the log.
    """
    clear = await open_record(keyring, record)
    secret = _secret_paths(clear)
    if secret is None:
        log.warning(
            "attachment %s: its connector or auth does not validate, so its secret fields "
            "are unknown; literal secrets in it stay in clear until it does",
            record.id,
        )
        return record, 0
    count = 0

    async def sealed(column: str, path: Path, value: str) -> str:
        nonlocal count
        stored = _at(record.config if column == "config" else record.auth, path)
        match = _SEALED.match(stored) if isinstance(stored, str) else None
        if match is not None and not (again and match.group(1) != keyring.current_id):
            return match.string  # sealed already (and opened above); kept byte for byte
        if is_secret_reference(value) or not value:
            return value
        box = await keyring.seal(value.encode("utf-8"), aad=_aad(record.id, column, path))
        count += 1
        return f"{SEALED_PREFIX}{box.kek_id}:{box.value}"

    config = await _mapped(clear.config, "config", (), sealed, lambda p: ("config", p) in secret)
    auth = None
    if clear.auth is not None:
        auth = await _mapped(clear.auth, "auth", (), sealed, lambda p: ("auth", p) in secret)
    return replace(record, config=config, auth=auth), count


def redacted(record: ConnectorAttachmentRecord) -> dict[str, Any]:
    """`config` and `auth` as an operator may read them: every sealed value is `<sealed>`."""

    def hide(value: Any) -> Any:
        if is_sealed(value):
            return REDACTED
        if isinstance(value, dict):
            return {k: hide(v) for k, v in value.items()}
        if isinstance(value, list):
            return [hide(v) for v in value]
        return value

    return {"config": hide(record.config), "auth": hide(record.auth)}


class AttachmentSecrets:
    """Custody's walk over `connector_attachments`: check, first sealing, rewrap."""

    async def walk(self, tx: UnitOfWork, keyring: Keyring, *, rewrap: bool) -> RowsWalked:
        opened = sealed = 0
        found: set[str] = set()
        for record in await tx.connector_attachments.list():
            ids = [m.group(1) for m in _sealed_matches(record)]
            found.update(ids)
            opened += len(ids)
            stored, count = await seal_record(keyring, record, again=rewrap)
            if count:
                await tx.connector_attachments.reseal(stored.id, stored.config, stored.auth)
                sealed += count
        return RowsWalked(opened=opened, sealed=sealed, kek_ids=frozenset(found))


def _sealed_matches(record: ConnectorAttachmentRecord) -> Iterator[re.Match[str]]:
    for tree in (record.config, record.auth):
        for _, value in _strings(tree):
            match = _SEALED.match(value)
            if match is not None:
                yield match


def _strings(tree: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    if isinstance(tree, str):
        yield path, tree
    elif isinstance(tree, dict):
        for key, value in tree.items():
            yield from _strings(value, (*path, str(key)))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield from _strings(value, (*path, index))


async def _mapped(
    tree: Any,
    column: str,
    path: Path,
    change: Callable[[str, Path, str], Awaitable[str]],
    wanted: Callable[[Path], bool],
) -> Any:
    """A copy of the JSON `tree` with `change` applied to each string whose path is wanted."""
    if isinstance(tree, str):
        return await change(column, path, tree) if wanted(path) else tree
    if isinstance(tree, dict):
        return {
            k: await _mapped(v, column, (*path, str(k)), change, wanted) for k, v in tree.items()
        }
    if isinstance(tree, list):
        return [await _mapped(v, column, (*path, i), change, wanted) for i, v in enumerate(tree)]
    return tree


def _at(tree: Any, path: Path) -> Any:
    for part in path:
        if isinstance(tree, dict) and isinstance(part, str):
            tree = tree.get(part)
        elif isinstance(tree, list) and isinstance(part, int) and part < len(tree):
            tree = tree[part]
        else:
            return None
    return tree


def _secret_paths(record: ConnectorAttachmentRecord) -> set[tuple[str, Path]] | None:
    """Where the plugins declare secrets (SecretStr) in this record; None if it does not
    validate. Paths are those of the JSON as given, so only keys present are listed."""
    try:
        kind = load_connector_class(record.connector)
        config = kind.config_model.model_validate(record.config)
        auth = parse_auth_config(record.auth)
    except (OpenLockerError, ValidationError):
        return None
    found = {("config", p) for p in _declared(config, record.config, ())}
    if record.auth is not None:
        found |= {("auth", p) for p in _declared(auth, record.auth, ())}
    return found


def _declared(value: Any, raw: Any, path: Path) -> Iterator[Path]:
    """Paths (in `raw`, the JSON) of the SecretStr values in `value`, its validated model."""
    if isinstance(value, SecretStr):
        if isinstance(raw, str):
            yield path
    elif isinstance(value, BaseModel):
        if isinstance(raw, dict):
            for name in type(value).model_fields:
                if name in raw:
                    yield from _declared(getattr(value, name), raw[name], (*path, name))
    elif isinstance(value, list | tuple):
        if isinstance(raw, list):
            for index, (item, given) in enumerate(zip(value, raw, strict=False)):
                yield from _declared(item, given, (*path, index))
    elif isinstance(value, dict) and isinstance(raw, dict):
        for key, item in value.items():
            if key in raw:
                yield from _declared(item, raw[key], (*path, str(key)))
