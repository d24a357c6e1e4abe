"""The flat settings keys of before the grouping, mapped onto the groups (issue 11).

`webhook_timeout_s = 10` in the file, `OPENLOCKER_WEBHOOK_TIMEOUT_S=10` in the environment and
`Settings(webhook_timeout_s=10)` still work: `FLAT_KEYS` names the grouped field of each, and
`GroupedSource` wraps each settings source to move flat keys into their groups, one
deprecation line in the log per key. Each source is mapped on its own, so the usual order
(arguments, environment, file) holds for flat keys too. A flat and a grouped value for the same
setting that disagree in one source, or an unknown key, stop start-up with a `SettingsError`
that says what to write instead; no message quotes a string value (it may be a secret).
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Mapping
from enum import Enum
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource
from pydantic_settings.sources import EnvSettingsSource

log = logging.getLogger("gateway.settings")

ENV_PREFIX = "OPENLOCKER_"

# Every flat key of the settings before they were grouped -> (group, field). Durations that
# were `<name>_s` numbers keep their number: a number means seconds in the grouped field too.
FLAT_KEYS: dict[str, tuple[str, str]] = {
    "database_url": ("store", "database_url"),
    "http_host": ("http", "host"),
    "http_port": ("http", "port"),
    "max_body_bytes": ("http", "max_body_bytes"),
    "max_token_bytes": ("tokens", "max_token_bytes"),
    "carrier_token_max_lifetime_s": ("tokens", "carrier_token_max_lifetime"),
    "clock_skew_s": ("tokens", "clock_skew"),
    "key_publish_lead_s": ("tokens", "key_publish_lead"),
    "grant_max_lifetime_s": ("tokens", "grant_max_lifetime"),
    "key_push_interval_s": ("tokens", "key_push_interval"),
    "key_version_poll_s": ("tokens", "key_version_poll"),
    "key_push_timeout_s": ("tokens", "key_push_timeout"),
    "reservation_ttl_s": ("parcels", "reservation_ttl"),
    "pickup_window_s": ("parcels", "pickup_window"),
    "idempotency_retention_s": ("parcels", "idempotency_retention"),
    "reminder_lead_s": ("parcels", "reminder_lead"),
    "housekeeping_interval_s": ("housekeeping", "interval"),
    "mqtt_url": ("mqtt", "url"),
    "mqtt_username": ("mqtt", "username"),
    "mqtt_password": ("mqtt", "password"),
    "mqtt_tls_ca_file": ("mqtt", "tls_ca_file"),
    "mqtt_tls_cert_file": ("mqtt", "tls_cert_file"),
    "mqtt_tls_key_file": ("mqtt", "tls_key_file"),
    "mqtt_tls_insecure": ("mqtt", "tls_insecure"),
    "mqtt_protocol": ("mqtt", "protocol"),
    "mqtt_shared_subscriptions": ("mqtt", "shared_subscriptions"),
    "embedded_mqtt_host": ("mqtt", "embedded_host"),
    "embedded_mqtt_port": ("mqtt", "embedded_port"),
    "open_timeout_s": ("lockers", "open_timeout"),
    "heartbeat_interval_s": ("lockers", "heartbeat_interval"),
    "keypad_max_failures": ("keypad", "max_failures"),
    "keypad_failure_window_s": ("keypad", "failure_window"),
    "keypad_lockout_base_s": ("keypad", "lockout_base"),
    "keypad_lockout_cap_s": ("keypad", "lockout_cap"),
    "keypad_quiet_reset_s": ("keypad", "quiet_reset"),
    "webhook_poll_interval_s": ("webhooks", "poll_interval"),
    "webhook_timeout_s": ("webhooks", "timeout"),
    "webhook_lease_s": ("webhooks", "lease"),
    "webhook_max_attempts": ("webhooks", "max_attempts"),
    "webhook_backoff_base_s": ("webhooks", "backoff_base"),
    "webhook_backoff_cap_s": ("webhooks", "backoff_cap"),
    "webhook_max_in_flight": ("webhooks", "max_in_flight"),
    "webhook_breaker_failures": ("webhooks", "breaker_failures"),
    "webhook_breaker_reset_s": ("webhooks", "breaker_reset"),
    "webhook_max_subscriptions": ("webhooks", "max_subscriptions"),
    "webhook_retention_s": ("webhooks", "retention"),
}
# Values never shown in a message, whatever their type (URLs may carry passwords).
_UNSHOWN = {"mqtt_password", "mqtt_url", "database_url"}


class SettingsError(ValueError):
    """A settings key that cannot be read as written; the message says what to write."""


class Origin(Enum):
    ARGUMENT = "argument"
    ENVIRONMENT = "environment"
    FILE = "file"


class GroupedSource(PydanticBaseSettingsSource):
    """One settings source whose flat keys are moved into their groups (see `FLAT_KEYS`)."""

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        inner: PydanticBaseSettingsSource,
        origin: Origin,
        *,
        where: str = "",
    ) -> None:
        super().__init__(settings_cls)
        self._shape = _Shape(settings_cls)
        self._inner = inner
        self._origin = origin
        self._where = where or origin.value

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, "", False  # __call__ does the work

    def __call__(self) -> dict[str, Any]:
        values = dict(self._inner())
        if isinstance(self._inner, EnvSettingsSource):
            # pydantic-settings reads only declared names; the flat ones are read here.
            values.update(_flat_environment(self._inner.case_sensitive))
        return _nest(values, self._shape, self._origin, self._where)

    def __repr__(self) -> str:
        return f"GroupedSource({self._inner!r})"


def _flat_environment(case_sensitive: bool | None) -> dict[str, str]:
    found = {}
    for name, value in os.environ.items():
        key = name if case_sensitive else name.upper()
        if key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX) :].lower() in FLAT_KEYS:
            found[key[len(ENV_PREFIX) :].lower()] = value
    return found


class _Shape:
    """The groups of a settings class and its top-level keys, as unknown keys are told by."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        fields = settings_cls.model_fields
        self.top = frozenset(fields)
        self.groups: dict[str, type[BaseModel]] = {
            name: info.annotation
            for name, info in fields.items()
            if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)
        }


def _nest(values: dict[str, Any], shape: _Shape, origin: Origin, where: str) -> dict[str, Any]:
    """`values` with every flat key moved into its group; unknown keys and clashes refused."""
    flat = {key: value for key, value in values.items() if key in FLAT_KEYS}
    nested = {key: value for key, value in values.items() if key not in FLAT_KEYS}
    _refuse_unknown_keys(nested, shape, where)
    for key, value in flat.items():
        group, field = FLAT_KEYS[key]
        table = nested.get(group, {})
        if isinstance(table, BaseModel):
            table = table.model_dump(exclude_unset=True)
        if not isinstance(table, Mapping):
            raise SettingsError(
                f"settings ({where}): {_old_form(key, value, origin)} cannot be merged into "
                f"`{group}`, which is given as a value, not a table; write "
                f"{_new_form(key, value, origin)}"
            )
        if field in table and not _same_value(shape.groups[group], field, table[field], value):
            raise SettingsError(
                f"settings ({where}): {_old_form(key, value, origin)} and `{group}.{field}` "
                f"disagree; remove the flat key (grouped it is {_new_form(key, value, origin)}) "
                "and keep the one value you mean"
            )
        nested[group] = {**table, field: value}
        log.warning(
            "settings (%s): %s is deprecated, write %s",
            where,
            _old_form(key, value, origin),
            _new_form(key, value, origin),
        )
    return nested


def _refuse_unknown_keys(values: Mapping[str, Any], shape: _Shape, where: str) -> None:
    """Name an unknown key with what it was likely meant to be (extra="forbid" would not)."""
    for key, value in values.items():
        group = shape.groups.get(key)
        if group is None and key not in shape.top:
            raise SettingsError(f"settings ({where}): unknown key `{key}`{_suggest(key, shape)}")
        if group is not None and isinstance(value, Mapping):
            for field in value:
                if field not in group.model_fields:
                    fields = ", ".join(group.model_fields)
                    raise SettingsError(
                        f"settings ({where}): unknown key `{key}.{field}`"
                        f"{_suggest(f'{key}.{field}', shape)} (`[{key}]` has: {fields})"
                    )


def _suggest(key: str, shape: _Shape) -> str:
    known = [f"{g}.{f}" for g, model in shape.groups.items() for f in model.model_fields]
    known += [*FLAT_KEYS, *shape.top]
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if not close:
        return " (see gateway/settings.py for the groups and their keys)"
    if close[0] in FLAT_KEYS:
        group, field = FLAT_KEYS[close[0]]
        return f"; did you mean `{group}.{field}` (formerly `{close[0]}`)?"
    return f"; did you mean `{close[0]}`?"


def _same_value(group: type[BaseModel], field: str, a: Any, b: Any) -> bool:
    """Whether two spellings of a setting mean the same (`10` and `"PT10S"` do)."""
    if a == b:
        return True
    info = group.model_fields[field]
    adapter: TypeAdapter[Any] = TypeAdapter(info.rebuild_annotation())
    try:
        return bool(adapter.validate_python(a) == adapter.validate_python(b))
    except ValidationError:
        return False  # a bad value is a disagreement too; the message names both keys


def _shown(key: str, value: Any) -> tuple[str, str]:
    """A value as a message may show it, in TOML and in the environment: numbers and
    booleans as they are, anything else as `...` (a string may be a secret or hold one)."""
    text = value.strip().lower() if isinstance(value, str) else None
    if key in _UNSHOWN:
        return '"..."', "..."
    if isinstance(value, bool):
        return ("true", "true") if value else ("false", "false")
    if isinstance(value, int | float):
        return str(value), str(value)
    if text is not None and (text in {"true", "false"} or _is_number(text)):
        return text, text
    return '"..."', "..."


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _old_form(key: str, value: Any, origin: Origin) -> str:
    toml, env = _shown(key, value)
    if origin is Origin.ENVIRONMENT:
        return f"`{ENV_PREFIX}{key.upper()}={env}`"
    if origin is Origin.ARGUMENT:
        return f"`{key}={_python(toml)}`"
    return f"`{key} = {toml}`"


def _new_form(key: str, value: Any, origin: Origin) -> str:
    """The grouped spelling: TOML table / environment (/ keyword argument)."""
    group, field = FLAT_KEYS[key]
    toml, env = _shown(key, value)
    forms = [
        f"`[{group}] {field} = {toml}`",
        f"`{ENV_PREFIX}{group.upper()}__{field.upper()}={env}`",
    ]
    if origin is Origin.ARGUMENT:
        forms.append(f'`{group}={{"{field}": {_python(toml)}}}`')
    return " / ".join(forms)


def _python(toml: str) -> str:
    return {"true": "True", "false": "False"}.get(toml, toml)
