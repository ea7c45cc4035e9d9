"""Who may do what: decided here and only here, denying unless a rule allows.

Scopes (on API keys; the local CLI operator holds directory-admin):
  lookup              lookups, with no detail about untrusted addresses
  org-admin:<org id>  that organisation's records, and details in lookups of its addresses
  federation          this directory's signed trust list, for a peer directory to import
  directory-admin     everything
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from directory.errors import forbidden, malformed

ORG_ADMIN = re.compile(r"^org-admin:([0-9a-f-]{36})$")


class Action(StrEnum):
    LOOKUP = "lookup"
    LIST_ORGANISATIONS = "organisation.list"
    READ_ORGANISATION = "organisation.read"
    CREATE_ORGANISATION = "organisation.create"
    UPDATE_ORGANISATION = "organisation.update"
    VET_ORGANISATION = "organisation.vet"
    CHANGE_STATUS = "organisation.status"
    MANAGE_DOMAINS = "domain.manage"  # claim and remove the organisation's own domains
    RECORD_VERIFICATION = "domain.record-verification"  # manual verification and posture
    VERIFY_DOMAIN = "domain.verify-dns"  # check the DNS challenge and record the result
    CHECK_POSTURE = "domain.check-posture"  # check a directory domain's posture and record it
    PREVIEW_POSTURE = "domain.preview-posture"  # check any domain's posture, recording nothing
    RUN_SCHEDULE = "verification.run-due"  # re-verify and re-check whatever is due
    MANAGE_RECIPIENTS = "recipient.manage"
    MANAGE_ACCREDITATIONS = "accreditation.manage"
    SPONSOR = "sponsorship.manage"  # org id: the sponsor
    MANAGE_API_KEYS = "api-key.manage"
    READ_AUDIT = "audit.read"
    ISSUE_CERTIFICATE = "certificate.issue"
    REVOKE_CERTIFICATE = "certificate.revoke"
    EXPORT_TRUST_LIST = "federation.export"  # read this directory's signed trust list
    MANAGE_FEDERATION = "federation.manage"  # peers: add, suspend, remove, import their lists


@dataclass(frozen=True)
class Principal:
    name: str  # who, for the audit log: "api-key:<id> (<name>)" or "cli:<user>"
    scopes: frozenset[str]

    @property
    def directory_admin(self) -> bool:
        return "directory-admin" in self.scopes

    def admin_of(self, org_id: str | None) -> bool:
        return self.directory_admin or (org_id is not None and f"org-admin:{org_id}" in self.scopes)

    def may_look_up(self) -> bool:
        return (
            "lookup" in self.scopes
            or self.directory_admin
            or any(ORG_ADMIN.match(s) for s in self.scopes)
        )


Rule = Callable[[Principal, str | None], bool]


def _directory_admin(p: Principal, _org: str | None) -> bool:
    return p.directory_admin


def _org_admin(p: Principal, org: str | None) -> bool:
    return p.admin_of(org)


def _looker(p: Principal, _org: str | None) -> bool:
    return p.may_look_up()


def _federation(p: Principal, _org: str | None) -> bool:
    return "federation" in p.scopes or p.directory_admin


RULES: dict[Action, Rule] = {
    Action.LOOKUP: _looker,
    Action.LIST_ORGANISATIONS: _directory_admin,
    Action.READ_ORGANISATION: _org_admin,
    Action.CREATE_ORGANISATION: _directory_admin,
    Action.UPDATE_ORGANISATION: _directory_admin,
    Action.VET_ORGANISATION: _directory_admin,
    Action.CHANGE_STATUS: _directory_admin,
    Action.MANAGE_DOMAINS: _org_admin,
    Action.RECORD_VERIFICATION: _directory_admin,
    Action.VERIFY_DOMAIN: _org_admin,
    Action.CHECK_POSTURE: _org_admin,
    Action.PREVIEW_POSTURE: _directory_admin,
    Action.RUN_SCHEDULE: _directory_admin,
    Action.MANAGE_RECIPIENTS: _org_admin,
    Action.MANAGE_ACCREDITATIONS: _directory_admin,
    Action.SPONSOR: _org_admin,
    Action.MANAGE_API_KEYS: _directory_admin,
    Action.READ_AUDIT: _directory_admin,
    Action.ISSUE_CERTIFICATE: _org_admin,
    Action.REVOKE_CERTIFICATE: _org_admin,
    Action.EXPORT_TRUST_LIST: _federation,
    Action.MANAGE_FEDERATION: _directory_admin,
}


def allowed(principal: Principal, action: Action, org_id: str | None = None) -> bool:
    rule = RULES.get(action)
    return rule is not None and rule(principal, org_id)


def authorize(principal: Principal, action: Action, org_id: str | None = None) -> None:
    if not allowed(principal, action, org_id):
        target = f" for organisation {org_id}" if org_id else ""
        raise forbidden(f"{principal.name} may not {action.value}{target}")


def detail_rule(principal: Principal) -> Callable[[str | None], bool]:
    """Lookup detail (untrusted entries, admin reasons): directory admins, and org admins for
    their own organisation's addresses."""
    if principal.directory_admin:
        return _always
    if not any(ORG_ADMIN.match(s) for s in principal.scopes):
        return _never  # one function for every such caller: their lookups can share a batch
    return lambda org: org is not None and principal.admin_of(org)


def _always(_org: str | None) -> bool:
    return True


def _never(_org: str | None) -> bool:
    return False


def check_scope(scope: str) -> str:
    if scope in ("lookup", "directory-admin", "federation") or ORG_ADMIN.match(scope):
        return scope
    raise malformed(
        f"unknown scope {scope[:80]!r}: use lookup, directory-admin, federation or "
        "org-admin:<org id>",
        field="scopes",
    )
