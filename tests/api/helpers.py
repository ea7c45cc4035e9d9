"""Building small directories for the HTTP API tests, through the audited registration API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from directory.model import Domain, Organisation
from directory.service import Directory
from tests.conftest import ADMIN

PROBLEM = "application/problem+json"
STRONG_POSTURE: dict[str, Any] = {"mta_sts": "enforce", "dmarc": "reject", "tls": True}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def new_key(directory: Directory, *scopes: str) -> str:
    _, secret = directory.registration.create_api_key(ADMIN, "test key", list(scopes))
    return secret


def add_org(
    directory: Directory,
    name: str,
    domain: str,
    *,
    sector: str = "local-government",
    identifiers: dict[str, str] | None = None,
    status: str = "active",
    vetted: bool = True,
    accreditation: str | None = "psn-compliance",
    posture: dict[str, Any] | None = None,
    domain_wide: bool = True,
    mailboxes: tuple[str, ...] = ("j.smith",),
) -> tuple[Organisation, Domain]:
    """An organisation with one verified domain, as an administrator would build it."""
    reg = directory.registration
    now = directory.clock()
    org = reg.create_organisation(ADMIN, name, sector, identifiers or {"other": name[:20]})
    dom = reg.claim_domain(ADMIN, org.id, domain)
    reg.record_domain_verification(ADMIN, dom.id, "test: challenge seen")
    reg.record_posture(ADMIN, dom.id, evidence="test", **(posture or STRONG_POSTURE))
    if vetted:
        reg.vet_organisation(ADMIN, org.id, "test: register checked")
    if accreditation:
        reg.add_accreditation(
            ADMIN,
            org.id,
            accreditation,
            "cert 1",
            now - timedelta(days=1),
            now + timedelta(days=300),
        )
    if domain_wide:
        reg.add_recipient(ADMIN, org.id, domain=domain)
    for local in mailboxes:
        reg.add_recipient(
            ADMIN, org.id, address=f"{local}@{domain}", display_name=local, mailbox_verified=True
        )
    if status != "applied":
        reg.set_status(ADMIN, org.id, "active", "test: approved")
    if status not in ("applied", "active"):
        reg.set_status(ADMIN, org.id, status, "test: status")
    found = directory.store.organisation(org.id)
    assert found is not None
    return found, dom


def written(directory: Directory) -> tuple[int, int, int]:
    """What changes when anything is written: the change sequence and the audit log's length."""
    state = directory.store.state()
    checked, problems = directory.store.verify_audit()
    assert not problems
    return state.seq, state.register_seq, checked


def without_address(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "address"}


def api_routes(app: Any) -> list[tuple[str, str]]:
    """Every (method, path) the application serves, through included routers and mounts."""
    found: list[tuple[str, str]] = []

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            included = getattr(route, "original_router", None)
            if included is not None:  # FastAPI >= 0.13x keeps included routers as branches
                context = getattr(route, "include_context", None)
                walk(included.routes, prefix + str(getattr(context, "prefix", "") or ""))
                continue
            path = prefix + str(getattr(route, "path", ""))
            children = getattr(route, "routes", None)
            if children:  # a Mount of a router
                walk(list(children), path)
                continue
            methods = getattr(route, "methods", None) or {"GET"}
            found.extend((method, path) for method in sorted(methods) if method != "HEAD")

    walk(list(app.routes), "")
    return sorted(set(found))
