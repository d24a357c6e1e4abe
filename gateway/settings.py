"""Gateway settings, read once (TOML file, then OPENLOCKER_* environment) and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_DATA_DIR = Path("var")


class Settings(BaseSettings):
    """Everything configurable; defaults run one site on SQLite with no other service."""

    model_config = SettingsConfigDict(env_prefix="OPENLOCKER_", extra="forbid", frozen=True)

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
    reservation_ttl_s: int = Field(default=24 * 3600, ge=60)
    pickup_window_s: int = Field(default=72 * 3600, ge=3600)
    idempotency_retention_s: int = Field(default=24 * 3600, ge=60)
    housekeeping_interval_s: float = Field(default=30.0, gt=0)
    spec_dir: Path | None = None

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


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read settings once: `overrides` (e.g. CLI flags), then env, then the TOML file."""
    if config_file is not None and not config_file.is_file():
        raise FileNotFoundError(f"config file not found: {config_file}")
    clean = {k: v for k, v in overrides.items() if v is not None}
    if config_file is not None:
        clean["_config_file"] = config_file
    return Settings(**clean)
