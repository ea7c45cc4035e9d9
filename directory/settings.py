"""Typed settings: config/settings.toml defaults, overridden by CLEARANCE_* environment variables.

Built by `load_settings()` inside the CLI command or `create_app()`, never at import time.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from directory.configfile import ConfigError, read_toml

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
    sqlite_mmap_mib: int = Field(default=128, ge=0, le=1 << 20)
    lookup_mirror: bool = True  # servers read mailbox entries from a compact local copy
    public_base_url: str = "http://127.0.0.1:8000"
    log_level: str = Field(default="warning", pattern=r"^(debug|info|warning|error)$")
    access_log: bool = False  # the API logs one line per request (at info)
    # The certificate authority (pki/, docs/pki.md).
    ca_dir: str = ""  # empty: <home>/ca
    ca_passphrase_file: str = ""  # empty: CLEARANCE_CA_PASSPHRASE, else <home>/ca-passphrase
    ca_profile: str = Field(default="default", pattern=r"^[a-z0-9][a-z0-9._-]*$")
    pki_base_url: str = "http://pki.clearance.example.com/pki"
    ldap_url: str = ""
    ldap_base_dn: str = ""
    ldap_bind_dn: str = ""
    ldap_password_file: str = ""
    ldap_ca_certificate_file: str = ""
    ldap_crl_file: str = ""
    config_dir: Path = REPO_CONFIG
    # DNS verification and posture checks (directory/verification, docs/dns.md).
    dns_nameservers: str = Field(default="", max_length=1000)  # "host" or "host:port", comma list
    dns_timeout: float = Field(default=3.0, gt=0.0, le=60.0)  # seconds, one query attempt
    dns_retries: int = Field(default=2, ge=0, le=10)  # further rounds over the nameservers
    dns_trust_anchors: str = ""  # DS/DNSKEY file; empty: <config_dir>/dns/trust-anchors.zone
    mta_sts_ca_file: str = ""  # CA bundle for MTA-STS policy fetches; empty: system CAs
    mta_sts_port: int = Field(default=443, ge=1, le=65535)
    mta_sts_timeout: float = Field(default=10.0, gt=0.0, le=120.0)
    challenge_valid_days: int = Field(default=7, ge=1, le=90)
    reverify_interval_days: int = Field(default=7, ge=1, le=365)
    posture_interval_hours: int = Field(default=24, ge=1, le=24 * 30)
    # Federation (directory/federation, docs/federation.md).
    directory_name: str = Field(default="clearance", pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")
    federation_list_valid_seconds: int = Field(default=86400, ge=300, le=30 * 86400)
    federation_fetch_timeout: float = Field(default=30.0, gt=0.0, le=600.0)
    # an imported list counts for at most this long, whatever valid_until it names
    federation_max_list_accept_seconds: int = Field(default=7 * 86400, ge=300, le=30 * 86400)

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
        return self.database_url or f"sqlite:///{(self.home / 'clearance.db').resolve()}"

    @property
    def policy_path(self) -> Path:
        return self.config_dir / "policies" / f"{self.policy}.toml"

    @property
    def schemes_dir(self) -> Path:
        return self.config_dir / "schemes"

    @property
    def ca_path(self) -> Path:
        return Path(self.ca_dir) if self.ca_dir else self.home / "ca"

    @property
    def ca_profile_path(self) -> Path:
        return self.config_dir / "profiles" / f"{self.ca_profile}.toml"

    @property
    def dns_trust_anchors_path(self) -> Path:
        if self.dns_trust_anchors:
            return Path(self.dns_trust_anchors)
        return self.config_dir / "dns" / "trust-anchors.zone"


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
