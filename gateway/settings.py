"""Gateway settings, read once (TOML file, then OPENLOCKER_* environment) and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_DATA_DIR = Path("var")
ATTACHMENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class ConnectorAttachmentSettings(BaseModel):
    """One connector attached to one carrier: a `[[connectors]]` table of the settings file.

    `config`, `auth` and `delivery` are checked against the connector's, the auth plugin's and
    the delivery options' models when the gateway starts (the models live with the plugins).
    Secret values may be written as `env:NAME` or `file:/path`; they are kept out of repr.
    """

    # Errors never quote the input: a secret typed into the wrong key must not be printed.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    id: str = Field(pattern=ATTACHMENT_ID_PATTERN, description="The operator's name for it.")
    carrier: str = Field(min_length=1, description="The carrier id it speaks for.")
    connector: str = Field(min_length=1, description="Entry-point name, e.g. `epcis`.")
    config: dict[str, Any] = Field(default_factory=dict, repr=False)
    auth: dict[str, Any] | None = Field(
        default=None, repr=False, description="The auth plugin and its settings; none if unset."
    )
    delivery: dict[str, Any] = Field(
        default_factory=dict, description="Overrides of the delivery policy (timeout_s...)."
    )
    events: list[str] | None = Field(
        default=None, description="OLP event types to send; unset sends every type."
    )
    active: bool = True


class Settings(BaseSettings):
    """Everything configurable; defaults run one site on SQLite with no other service."""

    model_config = SettingsConfigDict(
        env_prefix="OPENLOCKER_",
        extra="forbid",
        frozen=True,
        # Errors never quote the input: connector tables may hold literal secrets.
        hide_input_in_errors=True,
    )

    network_id: str = Field(
        default="openlocker-local",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$",
        description="This network's identity: the `aud` of carrier tokens, the `iss` of grants.",
    )
    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{DEFAULT_DATA_DIR / 'openlocker.db'}",
        description="SQLite file (default) or postgresql:// URL.",
    )
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    max_token_bytes: int = Field(default=4096, ge=512, le=8000)
    carrier_token_max_lifetime_s: int = Field(default=300, ge=10, le=300)
    clock_skew_s: int = Field(default=30, ge=0, le=300)
    key_publish_lead_s: int = Field(
        default=3600,
        ge=0,
        description="A rotated network key is published at once but signs only this much "
        "later, so lockers that were offline receive it before any grant needs it.",
    )
    grant_max_lifetime_s: int = Field(
        default=24 * 3600,
        ge=60,
        description="The longest an access grant is valid; the parcel's own deadline may "
        "cut it shorter.",
    )
    reservation_ttl_s: int = Field(default=24 * 3600, ge=60)
    pickup_window_s: int = Field(default=72 * 3600, ge=3600)
    idempotency_retention_s: int = Field(default=24 * 3600, ge=60)
    housekeeping_interval_s: float = Field(default=30.0, gt=0)
    reminder_lead_s: int = Field(
        default=24 * 3600,
        ge=0,
        description="Recipient notifiers remind this long before a parcel's pickup window "
        "ends (once per deadline); 0 sends no reminders.",
    )
    spec_dir: Path | None = None

    # ---- the locker side ----
    mqtt_url: str | None = Field(
        default=None,
        description="External broker (mqtt://host:port, mqtts://host:8883 for TLS); unset runs "
        "the embedded broker.",
    )
    mqtt_username: str | None = Field(
        default=None, description="This gateway's MQTT user (see `openlocker mqtt passwd`)."
    )
    mqtt_password: SecretStr | None = None
    mqtt_tls_ca_file: Path | None = Field(
        default=None, description="PEM CA that signed the broker's certificate (mqtts://)."
    )
    mqtt_tls_cert_file: Path | None = Field(
        default=None, description="PEM client certificate, for brokers requiring mutual TLS."
    )
    mqtt_tls_key_file: Path | None = Field(
        default=None, description="PEM private key of the client certificate."
    )
    mqtt_tls_insecure: bool = Field(
        default=False,
        description="Skip the broker's host name check (the chain is still verified); tests only.",
    )
    embedded_mqtt_host: str = "127.0.0.1"
    embedded_mqtt_port: int = Field(default=1884, ge=0, le=65535)
    mqtt_protocol: int = Field(default=5, description="4 = MQTT 3.1.1, 5 = MQTT 5")
    mqtt_shared_subscriptions: bool = True
    instance: str = Field(
        default="gw-1",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="This instance's name; give each instance behind a load balancer its own.",
    )
    open_timeout_s: float = Field(default=10.0, gt=0, le=120)
    heartbeat_interval_s: int = Field(default=60, ge=5)
    key_push_interval_s: float = Field(
        default=60.0, gt=0, description="Sweep: push the key set to every locker still behind."
    )
    key_version_poll_s: float = Field(
        default=2.0, gt=0, description="How often a key rotation (by any instance) is looked for."
    )
    key_push_timeout_s: float = Field(
        default=10.0, gt=0, le=120, description="How long a locker has to confirm a SetKeySet."
    )
    adapters: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Adapter name -> its config; `olp` always runs (its MQTT from the above).",
    )

    # ---- keypad attempt limits (shared by all instances through the database) ----
    keypad_max_failures: int = Field(
        default=5, ge=1, le=100, description="Wrong codes within the window that lock a keypad."
    )
    keypad_failure_window_s: float = Field(
        default=300.0, gt=0, description="How long wrong codes count towards a lockout."
    )
    keypad_lockout_base_s: float = Field(
        default=60.0, gt=0, description="The first lockout; each further one doubles it."
    )
    keypad_lockout_cap_s: float = Field(default=3600.0, gt=0, description="The longest lockout.")
    keypad_quiet_reset_s: float = Field(
        default=3600.0,
        gt=0,
        description="After this long without a wrong code the back-off starts over.",
    )

    # ---- carrier webhooks ----
    webhook_poll_interval_s: float = Field(
        default=1.0,
        gt=0,
        description="How often the dispatcher looks for due deliveries (retries, and rows "
        "queued by other instances); rows this instance queues are sent at once.",
    )
    webhook_timeout_s: float = Field(
        default=10.0, gt=0, le=120, description="Total time one attempt may take."
    )
    webhook_lease_s: float = Field(
        default=60.0,
        gt=0,
        description="How long an attempt in flight keeps other instances off its delivery; "
        "after a crash the delivery is retried once it ends. Longer than webhook_timeout_s.",
    )
    webhook_max_attempts: int = Field(
        default=12, ge=1, le=100, description="Attempts before a delivery is dead."
    )
    webhook_backoff_base_s: float = Field(
        default=1.0, gt=0, description="Back-off after the first failure: 1 s, 2 s, 4 s..."
    )
    webhook_backoff_cap_s: float = Field(
        default=3600.0, gt=0, description="The longest back-off (before jitter)."
    )
    webhook_max_in_flight: int = Field(
        default=32, ge=1, le=1000, description="Concurrent attempts per gateway instance."
    )
    webhook_breaker_failures: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="Failed attempts in a row that open a subscription's circuit: its "
        "deliveries then wait instead of hammering a receiver that is down.",
    )
    webhook_breaker_reset_s: float = Field(
        default=30.0, gt=0, description="How long an open circuit waits before one probe."
    )
    webhook_max_subscriptions: int = Field(
        default=10, ge=1, le=1000, description="Active subscriptions per carrier."
    )
    webhook_retention_s: int = Field(
        default=14 * 24 * 3600, ge=3600, description="How long settled deliveries stay listed."
    )

    # ---- carrier connectors ----
    connectors: list[ConnectorAttachmentSettings] = Field(
        default_factory=list,
        description="Connector attachments (`[[connectors]]` tables, or OPENLOCKER_CONNECTORS "
        "as a JSON array); checked and built at start-up.",
    )

    @field_validator("connectors", mode="wrap")
    @classmethod
    def _name_bad_attachments(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """A malformed table is named `connectors[<id>].<field>`, as the start-up checks do."""
        try:
            return handler(value)
        except ValidationError as err:
            raise ValueError(_attachment_problems(value, err)) from None

    @field_validator("connectors")
    @classmethod
    def _unique_attachment_ids(
        cls, attachments: list[ConnectorAttachmentSettings]
    ) -> list[ConnectorAttachmentSettings]:
        seen: set[str] = set()
        for attachment in attachments:
            if attachment.id in seen:
                raise ValueError(f"connector attachment id {attachment.id!r} is used twice")
            seen.add(attachment.id)
        return attachments

    @field_validator("webhook_lease_s")
    @classmethod
    def _lease_outlasts_attempt(cls, lease: float, info: ValidationInfo) -> float:
        timeout = info.data.get("webhook_timeout_s")
        # Otherwise a slow attempt still in flight would be sent again by another instance.
        if timeout is not None and lease <= timeout:
            raise ValueError("webhook_lease_s must be longer than webhook_timeout_s")
        return lease

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, url: str) -> str:
        if not url.startswith(("sqlite", "postgresql", "postgres://")):
            raise ValueError("database_url must be a sqlite or postgresql URL")
        return url

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Explicit arguments win, then the environment, then the TOML file named at load().
        toml_file = init_settings.init_kwargs.pop("_config_file", None)  # type: ignore[attr-defined]
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)


def _attachment_problems(value: Any, err: ValidationError) -> str:
    """Each problem as `connectors[<id, else index>].<field>: <problem>`, never a value."""
    lines = []
    for error in err.errors(include_input=False, include_url=False):
        loc = list(error["loc"])
        where = "connectors"
        index = loc[0] if loc else None
        if isinstance(index, int):
            del loc[0]
            entry = value[index] if isinstance(value, list) and index < len(value) else None
            name = entry.get("id") if isinstance(entry, dict) else None
            where += f"[{name if isinstance(name, str) and name else index}]"
        where += "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
        detail = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        lines.append(f"{where}: {str(detail).removeprefix('Value error, ')}")
    return "; ".join(lines)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read settings once: `overrides` (e.g. CLI flags), then env, then the TOML file."""
    if config_file is not None and not config_file.is_file():
        raise FileNotFoundError(f"config file not found: {config_file}")
    clean = {k: v for k, v in overrides.items() if v is not None}
    if config_file is not None:
        clean["_config_file"] = config_file
    return Settings(**clean)
