"""The relational schema (SQLAlchemy Core). Migrations in directory/store/migrations mirror it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        when: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        return when.replace(tzinfo=UTC)


ID = String(36)

directory_state = Table(
    "directory_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),  # bumped by every write transaction
    Column("register_seq", BigInteger, nullable=False),  # ... that touched org-level records
    Column("audit_position", BigInteger, nullable=False),  # the audit log's head
    Column("audit_head", String(64), nullable=False),
    # random, made once per store: a copy (the lookup mirror) checks it is of this store
    Column("instance", String(36)),
)

organisations = Table(
    "organisations",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(300), nullable=False),
    Column("sector", String(40), nullable=False),
    Column("status", String(20), nullable=False),
    Column("identifiers", JSON, nullable=False),
    Column("vetted_at", UTCDateTime),
    Column("vetting_evidence", Text),
    Column("review_required", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("change_seq", BigInteger, nullable=False, index=True),
)

domains = Table(
    "domains",
    metadata,
    Column("id", ID, primary_key=True),
    Column("organisation_id", ID, ForeignKey("organisations.id"), nullable=False, index=True),
    Column("name", String(253), nullable=False),
    Column("status", String(20), nullable=False),
    Column("verified_at", UTCDateTime),
    Column("verification_method", String(20)),
    Column("verification_evidence", Text),
    Column("posture", JSON),
    Column("subaddress_separator", String(1)),
    Column("challenge_token", String(64)),
    Column("challenge_expires", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("change_seq", BigInteger, nullable=False, index=True),
    Index(
        "uq_domains_name_active",
        "name",
        unique=True,
        sqlite_where=text("status = 'active'"),
        postgresql_where=text("status = 'active'"),
    ),
)

recipients = Table(
    "recipients",
    metadata,
    Column("id", ID, primary_key=True),
    Column("organisation_id", ID, ForeignKey("organisations.id"), nullable=False, index=True),
    Column("domain_id", ID, ForeignKey("domains.id"), nullable=False, index=True),
    Column("kind", String(10), nullable=False),
    Column("address", String(254)),
    Column("display_name", String(300)),
    Column("given_name", String(100)),
    Column("surname", String(100)),
    Column("role", String(10), nullable=False),
    Column("mailbox_verified_at", UTCDateTime),
    Column("exclusions", JSON, nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("change_seq", BigInteger, nullable=False, index=True),
    Index(
        "uq_recipients_address_active",
        "address",
        unique=True,
        sqlite_where=text("status = 'active' AND kind = 'mailbox'"),
        postgresql_where=text("status = 'active' AND kind = 'mailbox'"),
    ),
    Index(
        "uq_recipients_domain_wide_active",
        "domain_id",
        unique=True,
        sqlite_where=text("status = 'active' AND kind = 'domain'"),
        postgresql_where=text("status = 'active' AND kind = 'domain'"),
    ),
)

accreditations = Table(
    "accreditations",
    metadata,
    Column("id", ID, primary_key=True),
    Column("organisation_id", ID, ForeignKey("organisations.id"), nullable=False, index=True),
    Column("scheme", String(100), nullable=False),
    Column("evidence", Text, nullable=False),
    Column("valid_from", UTCDateTime, nullable=False),
    Column("expires", UTCDateTime, nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("change_seq", BigInteger, nullable=False, index=True),
)

sponsorships = Table(
    "sponsorships",
    metadata,
    Column("id", ID, primary_key=True),
    Column("sponsor_id", ID, ForeignKey("organisations.id"), nullable=False, index=True),
    Column("sponsored_id", ID, ForeignKey("organisations.id"), nullable=False, index=True),
    Column("purpose", Text, nullable=False),
    Column("ceiling", String(100), nullable=False),
    Column("valid_from", UTCDateTime, nullable=False),
    Column("expires", UTCDateTime, nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("change_seq", BigInteger, nullable=False, index=True),
)

certificates = Table(
    "certificates",
    metadata,
    Column("serial", String(64), primary_key=True),  # lower-case hex
    Column("recipient_id", ID, ForeignKey("recipients.id"), index=True),
    Column("email", String(254), nullable=False),
    Column("not_before", UTCDateTime, nullable=False),
    Column("not_after", UTCDateTime, nullable=False),
    Column("der", LargeBinary, nullable=False),
    Column("validation", String(20)),  # mailbox | organization | sponsor
    Column("trust_level", String(40)),
    Column("revoked_at", UTCDateTime),
    Column("revocation_reason", String(40)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("change_seq", BigInteger, nullable=False, index=True),
)

# Every serial the CA reserved, with the linted throwaway-key certificate once it exists. A
# serial here without a row in `certificates` was never issued: OCSP answers "unknown".
precertificates = Table(
    "precertificates",
    metadata,
    Column("serial", String(64), primary_key=True),
    Column("der", LargeBinary),
    Column("created_at", UTCDateTime, nullable=False),
)

crls = Table(
    "crls",
    metadata,
    Column("number", BigInteger, primary_key=True, autoincrement=False),
    Column("this_update", UTCDateTime, nullable=False),
    Column("next_update", UTCDateTime, nullable=False),
    Column("revoked_count", Integer, nullable=False),
    Column("der", LargeBinary, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("scopes", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("revoked_at", UTCDateTime),
)

# Federation (directory/federation): peer directories whose signed trust lists are imported,
# and what their latest list holds (replaced wholesale on each import).
federation_peers = Table(
    "federation_peers",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(63), nullable=False, unique=True),
    Column("url", String(2000)),
    Column("public_key", Text, nullable=False),
    Column("key_id", String(80), nullable=False),
    Column("max_trust", String(40), nullable=False),
    # name constraints: the domain suffixes the peer may speak for (a suffix covers itself and
    # every name under it); an entry outside them is refused at import. None by default.
    Column("permitted_domains", JSON, nullable=False, server_default=text("'[]'")),
    Column("status", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("list_issued_at", UTCDateTime),
    Column("list_valid_until", UTCDateTime),
    Column("list_digest", String(80)),
    Column("change_seq", BigInteger, nullable=False, index=True),
)

federated_domains = Table(
    "federated_domains",
    metadata,
    Column("id", ID, primary_key=True),
    Column("peer_id", ID, ForeignKey("federation_peers.id"), nullable=False, index=True),
    Column("domain", String(253), nullable=False, unique=True),
    Column("organisation_id", String(100), nullable=False),
    Column("organisation_name", String(300), nullable=False),
    Column("sector", String(40), nullable=False),
    Column("trust_level", String(40), nullable=False),
    Column("ceiling", String(100)),
    Column("posture", JSON),
    Column("domain_wide", Integer, nullable=False),
    Column("exclusions", JSON, nullable=False),
    Column("subaddress_separator", String(1)),  # None: the peer strips no sub-address
    Column("change_seq", BigInteger, nullable=False),
)

federated_mailboxes = Table(
    "federated_mailboxes",
    metadata,
    Column("id", ID, primary_key=True),
    Column("peer_id", ID, ForeignKey("federation_peers.id"), nullable=False, index=True),
    Column("domain_id", ID, ForeignKey("federated_domains.id"), nullable=False, index=True),
    Column("address", String(254), nullable=False, unique=True),
    Column("role", String(10), nullable=False),
    Column("mailbox_verified", Integer, nullable=False),
    Column("change_seq", BigInteger, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(100), nullable=False),
    Column("entity", String(40), nullable=False),
    Column("entity_id", String(64), nullable=False, index=True),
    Column("before", JSON),
    Column("after", JSON),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# Who runs a singleton job (`clearance ldap publish/sync`) until when: operational state, not
# part of the register, so neither audited nor counted in the change sequence.
leases = Table(
    "leases",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)
