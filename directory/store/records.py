"""Register records (directory/model.py values) as the rows that hold them, for the Writer:
which table holds each record type, and a record or a change as column values (enums as their
values, tuples as lists, a posture as its JSON). Only directory/store/ knows tables and rows."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, TypeVar

from sqlalchemy import Table

from directory.model import (
    Accreditation,
    ApiKey,
    Domain,
    Organisation,
    Posture,
    Recipient,
    Sponsorship,
)
from directory.store import rows
from directory.store import tables as t

Record = Organisation | Domain | Recipient | Accreditation | Sponsorship | ApiKey
R = TypeVar("R", Organisation, Domain, Recipient, Accreditation, Sponsorship, ApiKey)

TABLES: dict[type, Table] = {
    Organisation: t.organisations,
    Domain: t.domains,
    Recipient: t.recipients,
    Accreditation: t.accreditations,
    Sponsorship: t.sponsorships,
    ApiKey: t.api_keys,
}
READERS: dict[type, Callable[[Mapping[Any, Any]], Any]] = {
    Organisation: rows.organisation,
    Domain: rows.domain,
    Recipient: rows.recipient,
    Accreditation: rows.accreditation,
    Sponsorship: rows.sponsorship,
    ApiKey: rows.api_key,
}


def row_of(record: Record) -> dict[str, Any]:
    """The record's columns (its change_seq is the writing transaction's, set by the Writer)."""
    out = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
    out.pop("change_seq", None)
    return values_of(out)


def values_of(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Typed values as the columns store them."""
    return {name: _column_value(value) for name, value in changes.items()}


def _column_value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return [_column_value(v) for v in value]
    if isinstance(value, Posture):
        return rows.posture_to_json(value)
    return value


def posture_with(posture: Posture, **details: Any) -> dict[str, Any]:
    """A posture as its column holds it, with what the check found beside it (DNS checks keep
    their findings and records)."""
    return {**rows.posture_to_json(posture), **details}
