"""Gateway settings and sender-domain rules, from config/gateway.toml (data, checked at start)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator

from api.gateway.connection import ConnectionLimits
from directory.classification import Level, Scheme
from directory.configfile import (
    ConfigError,
    ConfigModel,
    Text,
    choice,
    load_model,
    non_empty_text,
    non_empty_texts,
    read_toml,
    seconds,
    whole,
)

_HEADER_NAME = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")


class Mode(StrEnum):
    TAG = "tag"
    ENFORCE_KNOWN = "enforce-known"
    ENFORCE_MINIMUM = "enforce-minimum"


MODES = tuple(m.value for m in Mode)
MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class SenderRule:
    sender_domains: tuple[str, ...]
    mode: Mode
    minimum: Level

    def matches(self, domain: str) -> bool:
        return any(domain == d or domain.endswith("." + d) for d in self.sender_domains)


@dataclass(frozen=True)
class GatewayRules:
    scheme: Scheme
    mode: Mode
    minimum: Level
    tls_level: Level
    tls_secure: str
    tls_dane: str
    tls_encrypt: str
    recipient_found: str
    header: str
    lookup_timeout: float
    max_stale: float
    answer_cache_entries: int = 0
    answer_cache_seconds: float = 30.0
    answer_cache_bytes: int = 256 * MIB
    tls_cache_bytes: int = 16 * MIB
    rules: tuple[SenderRule, ...] = ()
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)

    def for_sender(self, sender: str) -> tuple[Mode, Level]:
        """The mode and minimum for mail from this envelope sender ("" for bounces)."""
        domain = sender.rpartition("@")[2].strip().rstrip(".").lower() if "@" in sender else ""
        if domain:
            for rule in self.rules:
                if rule.matches(domain):
                    return rule.mode, rule.minimum
        return self.mode, self.minimum


def _header_name(value: Any) -> str:
    text = non_empty_text(value)
    if not set(text) <= _HEADER_NAME:
        raise ValueError("must be a header name (letters, digits and hyphens)")
    return text


def _value_text(value: Any) -> str:
    """A value Postfix puts in its reply: printable ASCII on one line."""
    text = non_empty_text(value)
    if not text.isascii() or any(c in text for c in "\r\n\0"):
        raise ValueError("must be printable ASCII on one line")
    return text


def _domains(value: Any) -> tuple[str, ...]:
    domains = tuple(d.strip().rstrip(".").lower() for d in non_empty_texts(value))
    if not domains:
        raise ValueError("must name at least one domain")
    return domains


ModeName = Annotated[Mode, BeforeValidator(choice(Mode))]
ReplyText = Annotated[str, BeforeValidator(_value_text)]


class _RuleFile(ConfigModel):
    sender_domains: Annotated[tuple[str, ...], BeforeValidator(_domains)]
    mode: ModeName | None = None
    minimum: Text | None = None


class _GatewayFile(ConfigModel):
    """config/gateway.toml, as written (levels are names until checked against the scheme)."""

    mode: ModeName = Mode.TAG
    minimum: Text = "OFFICIAL"
    header: Annotated[str, BeforeValidator(_header_name)] = "X-Clearance"
    lookup_timeout_seconds: Annotated[float, BeforeValidator(seconds(0.05, 60.0))] = 2.0
    max_stale_seconds: Annotated[float, BeforeValidator(seconds(0.5, 3600.0))] = 10.0
    answer_cache_entries: Annotated[int, BeforeValidator(whole(0, 10_000_000))] = 0
    answer_cache_seconds: Annotated[float, BeforeValidator(seconds(0.1, 3600.0))] = 30.0
    answer_cache_mib: Annotated[int, BeforeValidator(whole(1, 1_000_000))] = 256
    tls_cache_mib: Annotated[int, BeforeValidator(whole(1, 1_000_000))] = 16
    max_pending_requests: Annotated[int, BeforeValidator(whole(1, 10_000))] = 64
    request_timeout_seconds: Annotated[float, BeforeValidator(seconds(0.5, 600.0))] = 10.0
    idle_timeout_seconds: Annotated[float, BeforeValidator(seconds(1.0, 86_400.0))] = 330.0
    max_connections: Annotated[int, BeforeValidator(whole(1, 1_000_000))] = 2000
    tls_classification: Text = "OFFICIAL-SENSITIVE"
    tls_secure: ReplyText = "secure"
    tls_dane: ReplyText = "dane-only"
    tls_encrypt: ReplyText = "encrypt"
    recipient_found: ReplyText = "OK"
    rules: tuple[_RuleFile, ...] = ()


def load_gateway_rules(path: Path, scheme: Scheme, **overrides: Any) -> GatewayRules:
    """Read the file; `overrides` (e.g. mode="enforce-known" from a test or the command line)
    replace top-level keys before checking."""
    data, _ = read_toml(path)
    data.update({k: v for k, v in overrides.items() if v is not None})
    if isinstance(data.get("rules"), list):  # an array of tables is a list to TOML
        data["rules"] = tuple(data["rules"])
    found = load_model(path, _GatewayFile, data)

    def level(key: str, name: str) -> Level:
        got = scheme.find(name)
        if got is None:
            raise ConfigError(path, key, f"{name!r} is not a classification of {scheme.name}")
        return got

    minimum = level("minimum", found.minimum)
    rules = tuple(
        SenderRule(
            rule.sender_domains,
            rule.mode or found.mode,
            level(f"rules[{i}].minimum", rule.minimum) if rule.minimum else minimum,
        )
        for i, rule in enumerate(found.rules)
    )
    return GatewayRules(
        scheme=scheme,
        mode=found.mode,
        minimum=minimum,
        tls_level=level("tls_classification", found.tls_classification),
        tls_secure=found.tls_secure,
        tls_dane=found.tls_dane,
        tls_encrypt=found.tls_encrypt,
        recipient_found=found.recipient_found,
        header=found.header,
        lookup_timeout=found.lookup_timeout_seconds,
        max_stale=found.max_stale_seconds,
        answer_cache_entries=found.answer_cache_entries,
        answer_cache_seconds=found.answer_cache_seconds,
        answer_cache_bytes=found.answer_cache_mib * MIB,
        tls_cache_bytes=found.tls_cache_mib * MIB,
        rules=rules,
        limits=ConnectionLimits(
            max_pending=found.max_pending_requests,
            request_timeout=found.request_timeout_seconds,
            idle_timeout=found.idle_timeout_seconds,
            max_connections=found.max_connections,
        ),
    )
