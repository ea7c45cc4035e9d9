"""Records as JSON-ready dicts for the HTTP API and the CLI's --json."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from enum import Enum
from typing import Any

from directory.model import Posture


def plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not f.name.startswith("_")
        }
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Enum):
        return value.name.lower().replace("_", "-") if isinstance(value.value, int) else value.value
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        return [plain(v) for v in value]
    return value


def posture(value: Posture | None) -> dict[str, Any] | None:
    return plain(value) if value is not None else None


def record(value: object) -> dict[str, Any]:
    """A register record (a dataclass) as a JSON object."""
    out = plain(value)
    if not isinstance(out, dict):
        raise TypeError(f"not a record: {type(value).__name__}")
    return out
