"""Gateway settings and sender-domain rules, from config/gateway.toml (data, checked at start)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from api.gateway.connection import ConnectionLimits
from directory.classification import Level, Scheme
from directory.configfile import ConfigError, Fields, read_toml

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


def load_gateway_rules(path: Path, scheme: Scheme, **overrides: Any) -> GatewayRules:
    """Read the file; `overrides` (e.g. mode="enforce-known" from a test or the command line)
    replace top-level keys before checking."""
    data, _ = read_toml(path)
    data.update({k: v for k, v in overrides.items() if v is not None})
    top = Fields(path, "", data)

    def level(f: Fields, key: str, default: str | None = None) -> Level:
        name = f.string(key, default, required=default is None)
        found = scheme.find(name)
        if found is None:
            raise f.error(key, f"{name!r} is not a classification of {scheme.name}")
        return found

    def value_text(key: str, default: str) -> str:
        text = top.string(key, default)
        if not text.isascii() or any(c in text for c in "\r\n\0"):
            raise top.error(key, "must be printable ASCII on one line")
        return text

    mode = Mode(top.choice("mode", MODES, "tag"))
    minimum = level(top, "minimum", "OFFICIAL")
    header = top.string("header", "X-Clearance")
    if not set(header) <= _HEADER_NAME:
        raise top.error("header", "must be a header name (letters, digits and hyphens)")
    timeout = _seconds(top, "lookup_timeout_seconds", 2.0, 0.05, 60.0)
    max_stale = _seconds(top, "max_stale_seconds", 10.0, 0.5, 3600.0)
    cache_entries = top.integer("answer_cache_entries", 0, maximum=10_000_000)
    cache_seconds = _seconds(top, "answer_cache_seconds", 30.0, 0.1, 3600.0)
    cache_mib = top.integer("answer_cache_mib", 256, minimum=1, maximum=1_000_000)
    tls_mib = top.integer("tls_cache_mib", 16, minimum=1, maximum=1_000_000)
    limits = ConnectionLimits(
        max_pending=top.integer("max_pending_requests", 64, minimum=1, maximum=10_000),
        request_timeout=_seconds(top, "request_timeout_seconds", 10.0, 0.5, 600.0),
        idle_timeout=_seconds(top, "idle_timeout_seconds", 330.0, 1.0, 86_400.0),
        max_connections=top.integer("max_connections", 2000, minimum=1, maximum=1_000_000),
    )
    rules: list[SenderRule] = []
    for index, raw in enumerate(top._get("rules", [], False) or []):
        f = Fields(path, f"rules[{index}]", raw)
        domains = tuple(d.strip().rstrip(".").lower() for d in f.strings("sender_domains"))
        if not domains:
            raise f.error("sender_domains", "must name at least one domain")
        rule_mode = Mode(f.choice("mode", MODES, mode.value))
        rule_minimum = level(f, "minimum", minimum.name)
        f.refuse_unknown()
        rules.append(SenderRule(domains, rule_mode, rule_minimum))
    result = GatewayRules(
        scheme=scheme,
        mode=mode,
        minimum=minimum,
        tls_level=level(top, "tls_classification", "OFFICIAL-SENSITIVE"),
        tls_secure=value_text("tls_secure", "secure"),
        tls_dane=value_text("tls_dane", "dane-only"),
        tls_encrypt=value_text("tls_encrypt", "encrypt"),
        recipient_found=value_text("recipient_found", "OK"),
        header=header,
        lookup_timeout=timeout,
        max_stale=max_stale,
        answer_cache_entries=cache_entries,
        answer_cache_seconds=cache_seconds,
        answer_cache_bytes=cache_mib * MIB,
        tls_cache_bytes=tls_mib * MIB,
        rules=tuple(rules),
        limits=limits,
    )
    top.refuse_unknown()
    return result


def _seconds(f: Fields, key: str, default: float, low: float, high: float) -> float:
    value = f._get(key, default, False)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise f.error(key, "must be a number of seconds")
    if not low <= float(value) <= high:
        raise ConfigError(f.path, f.key(key), f"must be between {low} and {high}")
    return float(value)
