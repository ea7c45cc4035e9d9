"""DNS commands: `clearance domain claim|verify|check` and `clearance verify due`.

Exit codes: 0 verified / checked, 1 not verified, 2 bad input, 3 a temporary DNS failure (the
last good state was kept) or the directory cannot answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from api.cli.context import console, emit_json, find_organisation, open_directory, operator, table
from api.cli.errors import NO, UNAVAILABLE, translated
from api.cli.registry import domain_app

if TYPE_CHECKING:
    from directory.service import Directory
    from directory.verification.service import DnsVerification


def _verification(d: Directory) -> DnsVerification:
    # dnspython and the posture checks: imported by these commands only, so that every other
    # command starts without them
    from directory.verification.service import DnsVerification

    return DnsVerification(d)


verify_app = typer.Typer(help="Scheduled re-verification and posture checks.", no_args_is_help=True)

JSON = typer.Option(False, "--json", help="print JSON")


def _findings(title: str, findings: list[dict[str, Any]]) -> None:
    table(
        title,
        ["severity", "code", "message"],
        [[f["severity"], f["code"], f["message"]] for f in findings],
    )


@domain_app.command("claim")
@translated
def claim(
    org: str,
    domain: str,
    subaddress: str | None = typer.Option(None, help="sub-address separator, e.g. +"),
    as_json: bool = JSON,
) -> None:
    """Claim a domain for an organisation and print the DNS challenge to publish."""
    d = open_directory()
    try:
        found = _verification(d).claim(operator(), find_organisation(d, org).id, domain, subaddress)
    finally:
        d.close()
    if as_json:
        emit_json(found.as_dict())
        return
    console.print(f"{found.domain.name} claimed (id {found.domain.id}). Publish this TXT record:")
    # on one line, never wrapped: it is copied into a zone file as it is
    print(f'  {found.name}. IN TXT "{found.value}"')
    if found.replaced:
        console.print(
            "This replaces the challenge issued before: a TXT record with the old token no "
            "longer verifies; publish this one instead."
        )
    console.print(f"then run: clearance domain verify {found.domain.name}")


@domain_app.command("verify")
@translated
def verify(domain: str, as_json: bool = JSON) -> None:
    """Check the domain's DNS challenge and record the result (audited)."""
    d = open_directory()
    try:
        result = _verification(d).verify(operator(), d.registration.domain_named(domain).id)
    finally:
        d.close()
    data = result.as_dict()
    if as_json:
        emit_json(data)
    else:
        console.print(f"{result.domain}: {data['status']}")
        _findings(f"Challenge {result.name}", data["findings"])
    if result.temporary_failure:
        raise typer.Exit(UNAVAILABLE)
    if not result.verified:
        raise typer.Exit(NO)


@domain_app.command("check")
@translated
def check(
    domain: str,
    as_json: bool = JSON,
    preview: bool = typer.Option(
        False, help="check without recording (any domain; also used when it is not claimed)"
    ),
) -> None:
    """Check a domain's mail-security posture; a directory domain's result is recorded."""
    d = open_directory()
    try:
        service = _verification(d)
        known = None if preview else d.store.domain_by_name(_name(domain))
        if known is None:
            result = service.preview(operator(), domain)
        else:
            result = service.check(operator(), known.id)
    finally:
        d.close()
    data = result.as_dict()
    data["recorded"] = known is not None and not result.temporary_failure
    if as_json:
        emit_json(data)
    else:
        posture = data["posture"] or {}
        console.print(
            f"{result.domain}: {data['status']}"
            + (" (recorded)" if data["recorded"] else " (not recorded)")
        )
        if posture:
            table("Posture", ["field", "value"], [[k, v] for k, v in posture.items()])
        _findings("Findings", data["findings"])
    if result.temporary_failure:
        raise typer.Exit(UNAVAILABLE)


def _name(domain: str) -> str:
    from directory.address import normalise_domain

    return normalise_domain(domain)


@verify_app.command("due")
@translated
def due(
    concurrency: int = typer.Option(20, min=1, max=500, help="checks in flight at once"),
    processes: int = typer.Option(
        1, min=1, max=32, help="check in this many worker processes (results recorded here)"
    ),
    as_json: bool = JSON,
) -> None:
    """Re-verify and re-check every domain that is due (intervals from the settings)."""
    d = open_directory()
    try:
        report = _verification(d).run_due(operator(), concurrency, processes)
    finally:
        d.close()
    if as_json:
        emit_json(report)
    else:
        table(
            f"Due: {len(report)} jobs",
            ["domain", "job", "status", "problems"],
            [[r["domain"], r["job"], r["status"], ", ".join(r["problems"])] for r in report],
        )
    if any(r["status"] == "temporary-failure" for r in report):
        raise typer.Exit(UNAVAILABLE)
