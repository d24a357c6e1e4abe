"""Gateway settings, read once (TOML file, then OPENLOCKER_* environment) and passed down.

Settings are grouped by concern: `[http]`, `[store]`, `[mqtt]`, `[lockers]`, `[tokens]`,
`[parcels]`, `[keypad]`, `[webhooks]`, `[housekeeping]`, `[runtime]`, `[operators]`, plus
`network_id`, `instance`, `spec_dir`, `[adapters]` and `[[connectors]]` at the top. In the
environment a group's field is `OPENLOCKER_<GROUP>__<FIELD>` (e.g.
`OPENLOCKER_WEBHOOKS__TIMEOUT=10`).
Durations are `timedelta`s: a number means seconds, ISO 8601 (`PT10M`) is accepted too.

The flat names used before the grouping (`webhook_timeout_s = 10`, `OPENLOCKER_HTTP_PORT`,
`Settings(http_port=0)`) still work: `FLAT_KEYS` maps each to its grouped field, with one
deprecation line in the log. A flat and a grouped value for the same setting that disagree,
or an unknown key, stop start-up with a message that says what to write instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from gateway.domain.operators import OWASP_FLOOR, Argon2Cost
from gateway.settings_compat import (
    ENV_PREFIX,
    FLAT_KEYS,
    GroupedSource,
    Origin,
    SettingsError,
)

# The flat-key names are re-exported: callers read settings from this module only.
__all__ = [
    "ATTACHMENT_ID_PATTERN",
    "DEFAULT_DATA_DIR",
    "ENV_PREFIX",
    "FLAT_KEYS",
    "GROUPS",
    "ConnectorAttachmentSettings",
    "Duration",
    "HousekeepingSettings",
    "HttpSettings",
    "KeypadSettings",
    "LockerSettings",
    "LoggingSettings",
    "MetricsSettings",
    "MqttSettings",
    "OperatorSettings",
    "ParcelSettings",
    "RuntimeSettings",
    "SecretsSettings",
    "Settings",
    "SettingsError",
    "StoreSettings",
    "TokenSettings",
    "TracingSettings",
    "WebhookSettings",
    "WholeSeconds",
    "load_settings",
]

DEFAULT_DATA_DIR = Path("var")
ATTACHMENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def _seconds_from_text(value: Any) -> Any:
    """The environment gives text: a bare number there means seconds, as it does in TOML."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value  # ISO 8601 or a mistake: pydantic's parser decides
    return value


def _whole_seconds(value: timedelta) -> timedelta:
    # These go on the wire or into integer columns as seconds.
    if value.microseconds:
        raise ValueError("must be a whole number of seconds")
    return value


Duration = Annotated[timedelta, BeforeValidator(_seconds_from_text)]
WholeSeconds = Annotated[Duration, AfterValidator(_whole_seconds)]


def _s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


# Errors never quote the input: a secret typed into the wrong key must not be printed.
_GROUP_CONFIG = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class HttpSettings(BaseModel):
    """`[http]`: the carriers' API."""

    model_config = _GROUP_CONFIG

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/?#]+(/[^?#]*)?$",
        description="The API's base URL as carriers reach it (behind a proxy), published in "
        "/.well-known/olp-configuration; unset: the origin each request came to.",
    )


class StoreSettings(BaseModel):
    """`[store]`: the database."""

    model_config = _GROUP_CONFIG

    # Kept out of repr: a postgresql:// URL may carry a password.
    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{DEFAULT_DATA_DIR / 'openlocker.db'}",
        repr=False,
        description="SQLite file (default) or postgresql:// URL.",
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, url: str) -> str:
        if not url.startswith(("sqlite", "postgresql", "postgres://")):
            raise ValueError("database_url must be a sqlite or postgresql URL")
        return url


class MqttSettings(BaseModel):
    """`[mqtt]`: the broker the lockers speak OLP through."""

    model_config = _GROUP_CONFIG

    url: str | None = Field(
        default=None,
        repr=False,  # mqtt://user:password@host is a valid URL
        description="External broker (mqtt://host:port, mqtts://host:8883 for TLS); unset runs "
        "the embedded broker.",
    )
    username: str | None = Field(
        default=None, description="This gateway's MQTT user (see `openlocker mqtt passwd`)."
    )
    password: SecretStr | None = None
    tls_ca_file: Path | None = Field(
        default=None, description="PEM CA that signed the broker's certificate (mqtts://)."
    )
    tls_cert_file: Path | None = Field(
        default=None, description="PEM client certificate, for brokers requiring mutual TLS."
    )
    tls_key_file: Path | None = Field(
        default=None, description="PEM private key of the client certificate."
    )
    tls_insecure: bool = Field(
        default=False,
        description="Skip the broker's host name check (the chain is still verified); tests only.",
    )
    protocol: int = Field(default=5, description="4 = MQTT 3.1.1, 5 = MQTT 5")
    shared_subscriptions: bool = True
    session_expiry: WholeSeconds = Field(
        default=_s(3600),
        ge=_s(0),
        le=_s(2**32 - 1),
        description="How long the broker keeps this instance's session (and queues what comes "
        "for it) after its connection ends; 0 ends it with the connection. With several "
        "instances set 0: the broker keeps sending a dead instance's live session its share of "
        "every locker's events until it returns (tests/chaos/test_dead_instance_events.py).",
    )
    embedded_host: str = "127.0.0.1"
    embedded_port: int = Field(default=1884, ge=0, le=65535)
    public_urls: list[str] = Field(
        default_factory=list,
        description="Broker URLs lockers outside may use (mqtts://host:8883), published in "
        "/.well-known/olp-configuration; empty publishes none.",
    )


class LockerSettings(BaseModel):
    """`[lockers]`: how the gateway treats its lockers."""

    model_config = _GROUP_CONFIG

    open_timeout: Duration = Field(default=_s(10), gt=_s(0), le=_s(120))
    heartbeat_interval: WholeSeconds = Field(default=_s(60), ge=_s(5))
    lane_capacity: int = Field(
        default=256,
        ge=1,
        le=100_000,
        description="Events queued per locker; beyond it the locker is refused and retries "
        "(back-pressure) and an overload is logged once per episode.",
    )
    boot_concurrency: int = Field(
        default=32,
        ge=1,
        le=10_000,
        description="Boots in the database at once; beyond it a Boot is answered Pending with "
        "a least wait spread over the backlog's drain time (a broker restart's boot storm).",
    )
    bus_lease: Duration = Field(
        default=_s(15),
        ge=_s(1),
        le=_s(600),
        description="A board adapter (serial/TCP bus) configured on every instance runs on the "
        "one holding its lease in the database; another takes over this long after it stops "
        "renewing (at once after a clean stop).",
    )


class TokenSettings(BaseModel):
    """`[tokens]`: carrier tokens, network keys and access grants."""

    model_config = _GROUP_CONFIG

    carrier_token_max_lifetime: WholeSeconds = Field(default=_s(300), ge=_s(10), le=_s(300))
    clock_skew: WholeSeconds = Field(default=_s(30), ge=_s(0), le=_s(300))
    max_token_bytes: int = Field(default=4096, ge=512, le=8000)
    key_publish_lead: WholeSeconds = Field(
        default=_s(3600),
        ge=_s(0),
        description="A rotated network key is published at once but signs only this much "
        "later, so lockers that were offline receive it before any grant needs it.",
    )
    grant_max_lifetime: WholeSeconds = Field(
        default=_s(24 * 3600),
        ge=_s(60),
        description="The longest an access grant is valid; the parcel's own deadline may "
        "cut it shorter.",
    )
    key_push_interval: Duration = Field(
        default=_s(60),
        gt=_s(0),
        description="Sweep: push the key set to every locker still behind.",
    )
    key_version_poll: Duration = Field(
        default=_s(2),
        gt=_s(0),
        description="How often a key rotation (by any instance) is looked for.",
    )
    key_push_timeout: Duration = Field(
        default=_s(10),
        gt=_s(0),
        le=_s(120),
        description="How long a locker has to confirm a SetKeySet.",
    )


class ParcelSettings(BaseModel):
    """`[parcels]`: reservation and pickup deadlines, reminders, idempotency."""

    model_config = _GROUP_CONFIG

    reservation_ttl: WholeSeconds = Field(default=_s(24 * 3600), ge=_s(60))
    pickup_window: WholeSeconds = Field(default=_s(72 * 3600), ge=_s(3600))
    reminder_lead: WholeSeconds = Field(
        default=_s(24 * 3600),
        ge=_s(0),
        description="Recipient notifiers remind this long before a parcel's pickup window "
        "ends (once per deadline); 0 sends no reminders.",
    )
    idempotency_retention: WholeSeconds = Field(default=_s(24 * 3600), ge=_s(60))
    hold_ttl: WholeSeconds = Field(
        default=_s(15 * 60),
        ge=_s(60),
        le=_s(24 * 3600),
        description="How long a soft hold (`POST /v1/holds`) lasts when the carrier gives no "
        "ttlSeconds.",
    )
    recipient_extension_days: int = Field(
        default=2,
        ge=0,
        le=14,
        description="How many days a recipient may add to a pickup window, once, through the "
        "self-service link, where no hold-time policy says otherwise; 0 allows none.",
    )
    self_service_link_ttl: WholeSeconds = Field(
        default=_s(24 * 3600),
        ge=_s(300),
        le=_s(7 * 24 * 3600),
        description="How long a recipient's self-service link (a signed token) stays valid.",
    )
    batch_max: int = Field(
        default=200,
        ge=1,
        le=1000,
        description="Most parcels one `POST /v1/parcels:batch` may hold (a larger batch: 413).",
    )
    batch_max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Body limit of `POST /v1/parcels:batch` ([http] max_body_bytes for the "
        "rest): a full batch with recipients outgrows the single-request limit.",
    )


class KeypadSettings(BaseModel):
    """`[keypad]`: attempt limits, shared by all instances through the database."""

    model_config = _GROUP_CONFIG

    max_failures: int = Field(
        default=5, ge=1, le=100, description="Wrong codes within the window that lock a keypad."
    )
    failure_window: Duration = Field(
        default=_s(300), gt=_s(0), description="How long wrong codes count towards a lockout."
    )
    lockout_base: Duration = Field(
        default=_s(60), gt=_s(0), description="The first lockout; each further one doubles it."
    )
    lockout_cap: Duration = Field(default=_s(3600), gt=_s(0), description="The longest lockout.")
    quiet_reset: Duration = Field(
        default=_s(3600),
        gt=_s(0),
        description="After this long without a wrong code the back-off starts over.",
    )
    daily_max_failures: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="Wrong codes within 24 hours (from the first) that lock a keypad until "
        "those 24 hours end; a correct code does not reset this count.",
    )
    entry_max_age: Duration = Field(
        default=_s(10),
        gt=_s(0),
        le=_s(300),
        description="A code typed longer ago than this (locker's clock, offset-corrected) when "
        "it arrives opens nothing: the person has walked away; the code stays usable.",
    )


class WebhookSettings(BaseModel):
    """`[webhooks]`: carrier webhook deliveries (and the connectors' default policy)."""

    model_config = _GROUP_CONFIG

    poll_interval: Duration = Field(
        default=_s(1),
        gt=_s(0),
        description="How often the dispatcher looks for due deliveries (retries, and rows "
        "queued by other instances); rows this instance queues are sent at once.",
    )
    timeout: Duration = Field(
        default=_s(10), gt=_s(0), le=_s(120), description="Total time one attempt may take."
    )
    lease: Duration = Field(
        default=_s(60),
        gt=_s(0),
        description="How long an attempt in flight keeps other instances off its delivery; "
        "after a crash the delivery is retried once it ends. Longer than `timeout`.",
    )
    max_attempts: int = Field(
        default=12, ge=1, le=100, description="Attempts before a delivery is dead."
    )
    backoff_base: Duration = Field(
        default=_s(1), gt=_s(0), description="Back-off after the first failure: 1 s, 2 s, 4 s..."
    )
    backoff_cap: Duration = Field(
        default=_s(3600), gt=_s(0), description="The longest back-off (before jitter)."
    )
    max_in_flight: int = Field(
        default=32, ge=1, le=1000, description="Concurrent attempts per gateway instance."
    )
    breaker_failures: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="Failed attempts in a row that open a subscription's circuit: its "
        "deliveries then wait instead of hammering a receiver that is down.",
    )
    breaker_reset: Duration = Field(
        default=_s(30), gt=_s(0), description="How long an open circuit waits before one probe."
    )
    max_subscriptions: int = Field(
        default=10, ge=1, le=1000, description="Active subscriptions per carrier."
    )
    retention: WholeSeconds = Field(
        default=_s(14 * 24 * 3600),
        ge=_s(3600),
        description="How long settled deliveries stay listed.",
    )
    allow_private_targets: tuple[IPv4Network | IPv6Network, ...] = Field(
        default=(),
        description="Networks that webhook and connector HTTP targets may resolve into although "
        "they are loopback, private, link-local or reserved (refused otherwise: SSRF), e.g. "
        '["10.20.0.0/16"] for an internal receiver; tests use ["127.0.0.0/8", "::1/128"].',
    )

    @model_validator(mode="after")
    def _lease_outlasts_attempt(self) -> Self:
        # Otherwise a slow attempt still in flight would be sent again by another instance.
        if self.lease <= self.timeout:
            raise ValueError("webhooks.lease must be longer than webhooks.timeout")
        return self


class SecretsSettings(BaseModel):
    """`[secrets]`: the key-encryption key (KEK) sealing private keys in the database.

    None configured: a KEK file `kek` is made (0600) beside the SQLite database, or in `var/`
    (docs/KEY_CUSTODY.md). Older KEKs only open values, until `openlocker keys rewrap`.
    """

    model_config = _GROUP_CONFIG

    kek_file: Path | None = Field(default=None, description="File holding the current KEK.")
    kek_env: str | None = Field(
        default=None, description="Name of the environment variable holding the current KEK."
    )
    provider: str | None = Field(
        default=None, description="A KEK provider plugin (entry point `openlocker.kek_providers`)."
    )
    provider_config: dict[str, Any] = Field(default_factory=dict, repr=False)
    previous_kek_files: tuple[Path, ...] = Field(
        default=(), description="Older KEKs: they open what they sealed, never seal."
    )
    previous_kek_envs: tuple[str, ...] = ()


class HousekeepingSettings(BaseModel):
    """`[housekeeping]`: expiries, purges and reminders."""

    model_config = _GROUP_CONFIG

    interval: Duration = Field(default=_s(30), gt=_s(0))


class RuntimeSettings(BaseModel):
    """`[runtime]`: the process itself."""

    model_config = _GROUP_CONFIG

    event_loop: Literal["asyncio", "uvloop"] = Field(
        default="asyncio", description="`uvloop` needs the `uvloop` extra installed."
    )


class LoggingSettings(BaseModel):
    """`[logging]`: one line per record; JSON carries the correlation id as a field."""

    model_config = _GROUP_CONFIG

    format: Literal["auto", "json", "text"] = Field(
        default="auto",
        description="`auto`: text on a terminal, JSON otherwise (containers, systemd, files).",
    )
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class MetricsSettings(BaseModel):
    """`[metrics]`: the Prometheus endpoint `/metrics` on the HTTP listener."""

    model_config = _GROUP_CONFIG

    bearer_token: SecretStr | None = Field(
        default=None,
        description="When set, /metrics answers only `Authorization: Bearer <token>`.",
    )
    figures_max_age: Duration = Field(
        default=_s(5),
        ge=_s(0),
        description="Network-wide figures are read from the database at most this often.",
    )


class TracingSettings(BaseModel):
    """`[tracing]`: OpenTelemetry spans (gateway/observability/tracing.py); off by default."""

    model_config = _GROUP_CONFIG

    enabled: bool = Field(
        default=False,
        description="Needs the `tracing` extra (`pip install \"openlocker[tracing]\"`).",
    )
    exporter: Literal["otlp", "console", "none"] = Field(
        default="otlp",
        description="`otlp`: OTLP/HTTP (protobuf) to `otlp_endpoint`; `console`: JSON on "
        "stdout; `none`: spans only continue traces (traceparent in, out to webhooks).",
    )
    otlp_endpoint: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="The collector's traces URL; unset: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT "
        "or http://localhost:4318/v1/traces.",
    )
    service_name: str = Field(
        default="openlocker-gateway",
        min_length=1,
        max_length=128,
        description="The resource's `service.name` (`service.instance.id` is `instance`).",
    )


class OperatorSettings(BaseModel):
    """`[operators]`: console and admin API sign-in (docs/operators.md)."""

    model_config = _GROUP_CONFIG

    session_idle: Duration = Field(
        default=_s(30 * 60), gt=_s(0), description="A session ends after this long unused."
    )
    session_absolute: Duration = Field(
        default=_s(12 * 3600), gt=_s(0), description="A session ends this long after sign-in."
    )
    login_max_failures: int = Field(
        default=5, ge=1, le=100, description="Wrong passwords per account or address that lock."
    )
    login_window: Duration = Field(default=_s(15 * 60), gt=_s(0))
    login_lockout_base: Duration = Field(
        default=_s(60), gt=_s(0), description="The first lockout; each further one doubles it."
    )
    login_lockout_cap: Duration = Field(default=_s(3600), gt=_s(0))
    cookie_secure: bool | None = Field(
        default=None,
        description="Mark the session cookie Secure (HTTPS only). Unset: Secure unless the "
        "gateway listens on a loopback address only (plain-HTTP local development).",
    )
    cookie_samesite: Literal["Strict", "Lax"] = "Strict"
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = Field(
        default=(),
        description="Reverse proxies whose `X-Forwarded-For` is believed, e.g. "
        '["10.0.0.0/8", "127.0.0.1/32"]: when the TCP peer is in one, sign-in limits and audit '
        "entries use the header's rightmost address not in one; from any other peer the header "
        "is ignored (a client could write it). Empty: the TCP peer's address, always.",
    )
    # argon2id's cost for operator passwords (RFC 9106's second profile by default); a hash
    # made at another cost still verifies and is stored again at this one on its next sign-in.
    password_time_cost: int = Field(default=3, ge=1, le=64, description="argon2id passes.")
    password_memory_cost: int = Field(
        default=64 * 1024, ge=8, le=4 * 1024 * 1024, description="argon2id memory, in KiB."
    )
    password_parallelism: int = Field(default=4, ge=1, le=64, description="argon2id lanes.")
    password_cost_below_owasp_for_tests: bool = Field(
        default=False,
        description="Allow a cost below OWASP's minimum (19 MiB, 2 passes): for test suites "
        "only, where each sign-in would otherwise cost a production hash.",
    )

    @model_validator(mode="after")
    def _password_cost_floor(self) -> Self:
        if self.password_memory_cost < 8 * self.password_parallelism:
            raise ValueError("operators.password_memory_cost must be at least 8 KiB a lane")
        if self.password_cost.below(OWASP_FLOOR) and not self.password_cost_below_owasp_for_tests:
            raise ValueError(
                "operators.password_time_cost/password_memory_cost are below OWASP's minimum "
                f"for argon2id (t={OWASP_FLOOR.time_cost}, m={OWASP_FLOOR.memory_cost} KiB)"
            )
        return self

    @property
    def password_cost(self) -> Argon2Cost:
        return Argon2Cost(
            time_cost=self.password_time_cost,
            memory_cost=self.password_memory_cost,
            parallelism=self.password_parallelism,
        )


class ConnectorAttachmentSettings(BaseModel):
    """One connector attached to one carrier: a `[[connectors]]` table of the settings file.

    `config`, `auth` and `delivery` are checked against the connector's, the auth plugin's and
    the delivery options' models when the gateway starts (the models live with the plugins).
    Secret values may be written as `env:NAME` or `file:/path`; they are kept out of repr.
    """

    model_config = _GROUP_CONFIG

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


class ScanSettings(BaseModel):
    """`[scan]`: query on scan, a parcel id a courier scans that was never pre-advised
    (gateway/service/scan_queries.py; SPEC section 17)."""

    model_config = _GROUP_CONFIG

    policy: Literal["refuse", "hold", "ask"] = Field(
        default="refuse",
        description="The network's policy: `refuse` (nothing opens), `hold` (into a free "
        "compartment, to wait for the carrier's confirmation) or `ask` (the carrier's "
        "`scan-query` connector decides; gateway/service/scan_asks.py).",
    )
    carriers: dict[str, Literal["refuse", "hold", "ask"]] = Field(
        default_factory=dict,
        description="Carrier id -> its own policy, over the network's.",
    )
    confirm_window: WholeSeconds = Field(
        default=_s(48 * 3600),
        ge=_s(3600),
        le=_s(14 * 24 * 3600),
        description="How long a parcel taken in on a scan waits for its carrier (its pickup "
        "window): unconfirmed, it expires onto the collection manifest.",
    )
    ask_fallback: Literal["refuse", "hold"] = Field(
        default="refuse",
        description="What `ask` does without a usable answer: no scan-query connector, a "
        "timeout, an HTTP error, an unreadable answer, or the carrier answering `unknown`.",
    )
    ask_timeout: WholeSeconds = Field(
        default=_s(3),
        ge=_s(1),
        le=_s(10),
        description="How long the carrier is given to answer, credentials included (the "
        "courier is waiting at the locker).",
    )


# The groups, by the key that holds each in `Settings` (and names it in TOML and env).
GROUPS: dict[str, type[BaseModel]] = {
    "http": HttpSettings,
    "store": StoreSettings,
    "mqtt": MqttSettings,
    "lockers": LockerSettings,
    "tokens": TokenSettings,
    "parcels": ParcelSettings,
    "keypad": KeypadSettings,
    "webhooks": WebhookSettings,
    "housekeeping": HousekeepingSettings,
    "runtime": RuntimeSettings,
    "operators": OperatorSettings,
}


class Settings(BaseSettings):
    """Everything configurable; defaults run one site on SQLite with no other service."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
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
    instance: str = Field(
        default="gw-1",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="This instance's name; give each instance behind a load balancer its own.",
    )
    spec_dir: Path | None = None

    http: HttpSettings = Field(default_factory=HttpSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    lockers: LockerSettings = Field(default_factory=LockerSettings)
    tokens: TokenSettings = Field(default_factory=TokenSettings)
    parcels: ParcelSettings = Field(default_factory=ParcelSettings)
    keypad: KeypadSettings = Field(default_factory=KeypadSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    housekeeping: HousekeepingSettings = Field(default_factory=HousekeepingSettings)
    runtime: RuntimeSettings = Field(default_factory=RuntimeSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    secrets: SecretsSettings = Field(default_factory=SecretsSettings)
    operators: OperatorSettings = Field(default_factory=OperatorSettings)
    scan: ScanSettings = Field(default_factory=ScanSettings)

    adapters: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Adapter name -> its config; `olp` always runs (its MQTT from `[mqtt]`).",
    )
    connectors: list[ConnectorAttachmentSettings] = Field(
        default_factory=list,
        description="Connector attachments (`[[connectors]]` tables, or OPENLOCKER_CONNECTORS "
        "as a JSON array); checked and built at start-up.",
    )

    def __init__(self, **values: Any) -> None:
        # Declared so that type checkers accept the flat keyword arguments of before the
        # grouping (`Settings(http_port=0)`), which the sources map (see FLAT_KEYS).
        super().__init__(**values)

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
        # Each source's flat keys are mapped on their own, so the order holds for them too.
        toml_file = init_settings.init_kwargs.pop("_config_file", None)  # type: ignore[attr-defined]
        sources: list[PydanticBaseSettingsSource] = [
            GroupedSource(settings_cls, init_settings, Origin.ARGUMENT),
            GroupedSource(settings_cls, env_settings, Origin.ENVIRONMENT),
        ]
        if toml_file is not None:
            toml = TomlConfigSettingsSource(settings_cls, toml_file=toml_file)
            sources.append(GroupedSource(settings_cls, toml, Origin.FILE, where=str(toml_file)))
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
    """Read settings once: `overrides` (e.g. CLI flags), then env, then the TOML file.

    Overrides are grouped like the settings (`http={"port": 8081}`); unset ones (None) are
    dropped, so a flag not given leaves the file's or the environment's value.
    """
    if config_file is not None and not config_file.is_file():
        raise FileNotFoundError(f"config file not found: {config_file}")
    clean = _drop_unset(overrides)
    if config_file is not None:
        clean["_config_file"] = config_file
    return Settings(**clean)


def _drop_unset(values: Mapping[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            value = _drop_unset(value)
            if not value:
                continue
        if value is not None:
            clean[key] = value
    return clean
