"""Typed settings: config/settings.toml defaults, overridden by CLEARANCE_* environment variables.

Built by `load_settings()` inside the CLI command or `create_app()`, never at import time.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from directory.configfile import ConfigError, read_toml
from directory.store.engine import sqlite_url

REPO_CONFIG = Path(__file__).resolve().parent.parent / "config"


def config_dir() -> Path:
    return Path(os.environ.get("CLEARANCE_CONFIG_DIR", str(REPO_CONFIG)))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLEARANCE_", extra="forbid")

    home: Path = Path("var")
    database_url: str = ""
    policy: str = Field(default="uk-gsc", pattern=r"^[a-z0-9][a-z0-9._-]*$")
    cache_refresh_seconds: float = Field(default=1.0, ge=0.0, le=60.0)
    batch_limit: int = Field(default=1000, ge=1, le=10000)
    public_base_url: str = "http://127.0.0.1:8000"
    config_dir: Path = REPO_CONFIG

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be empty (SQLite), sqlite:///PATH or postgresql+psycopg://...")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings)

    @property
    def url(self) -> str:
        return self.database_url or sqlite_url(self.home)

    @property
    def policy_path(self) -> Path:
        return self.config_dir / "policies" / f"{self.policy}.toml"

    @property
    def schemes_dir(self) -> Path:
        return self.config_dir / "schemes"


def load_settings(**overrides: object) -> Settings:
    """Defaults from config/settings.toml, then the environment, then explicit overrides."""
    directory = config_dir()
    path = directory / "settings.toml"
    defaults, _ = read_toml(path)
    known = set(Settings.model_fields)
    for key in defaults:
        if key not in known:
            raise ConfigError(path, key, "is not a known setting")
    values: dict[str, object] = {
        k: v for k, v in defaults.items() if f"CLEARANCE_{k.upper()}" not in os.environ
    }
    values["config_dir"] = directory
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        settings = Settings(**values)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        raise ConfigError(
            path, key, f"{first['msg']} (from the file or CLEARANCE_{key.upper()})"
        ) from None
    if not settings.home.is_absolute():
        settings.home = Path.cwd() / settings.home
    return settings
