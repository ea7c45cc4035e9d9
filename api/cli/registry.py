"""Admin commands that mirror the HTTP admin API: organisations, domains, recipients,
accreditations and sponsorships."""

from __future__ import annotations

import typer

from api.cli.context import (
    console,
    emit_json,
    find_organisation,
    open_directory,
    operator,
    parse_time,
    record,
    table,
)
from api.cli.errors import translated
from directory.errors import malformed

org_app = typer.Typer(
    help="Organisations: register, vet, activate, suspend, withdraw.", no_args_is_help=True
)
domain_app = typer.Typer(help="Mail domains of an organisation.", no_args_is_help=True)
recipient_app = typer.Typer(
    help="Recipient entries: mailboxes and domain-wide entries.", no_args_is_help=True
)
accreditation_app = typer.Typer(help="Accreditations an organisation holds.", no_args_is_help=True)
sponsorship_app = typer.Typer(
    help="Sponsorships: one organisation vouching for another.", no_args_is_help=True
)

JSON = typer.Option(False, "--json", help="print JSON")


def _identifiers(values: list[str]) -> dict[str, str]:
    out = {}
    for value in values:
        scheme, sep, ident = value.partition("=")
        if not sep:
            raise malformed(f"--id {value!r}: use SCHEME=VALUE, e.g. gss=E07000106")
        out[scheme.strip()] = ident.strip()
    return out


# --- organisations -------------------------------------------------------------------------
@org_app.command("create")
@translated
def org_create(
    name: str,
    sector: str = typer.Option(..., help="e.g. local-government, health, third-sector"),
    ids: list[str] = typer.Option([], "--id", help="register identifier SCHEME=VALUE"),
    as_json: bool = JSON,
) -> None:
    """Register an organisation (status: applied)."""
    d = open_directory()
    org = d.registration.create_organisation(operator(), name, sector, _identifiers(ids))
    emit_json(org) if as_json else record("Organisation created", org)


@org_app.command("list")
@translated
def org_list(as_json: bool = JSON) -> None:
    d = open_directory()
    orgs = d.registration.organisations(operator())
    if as_json:
        emit_json(orgs)
        return
    table(
        "Organisations",
        ["id", "name", "sector", "status", "vetted", "review"],
        [
            [
                o.id,
                o.name,
                o.sector.value,
                o.status.value,
                "yes" if o.vetted_at else "no",
                o.review_required or "",
            ]
            for o in orgs
        ],
    )


@org_app.command("show")
@translated
def org_show(org: str, as_json: bool = JSON) -> None:
    d = open_directory()
    full = d.registration.organisation_record(operator(), find_organisation(d, org).id)
    found = full.organisation
    if as_json:
        emit_json(
            {
                "organisation": found,
                "domains": full.domains,
                "accreditations": full.accreditations,
            }
        )
        return
    record(found.name, found)
    table(
        "Domains",
        ["id", "name", "verified", "posture"],
        [
            [x.id, x.name, x.verified_at, x.posture.source if x.posture else None]
            for x in full.domains
        ],
    )
    table(
        "Accreditations",
        ["id", "scheme", "valid from", "expires", "status"],
        [[a.id, a.scheme, a.valid_from, a.expires, a.status.value] for a in full.accreditations],
    )


@org_app.command("vet")
@translated
def org_vet(org: str, evidence: str = typer.Option(..., help="what was checked, where")) -> None:
    """Record that the organisation's identity was checked against its register."""
    d = open_directory()
    found = d.registration.vet_organisation(operator(), find_organisation(d, org).id, evidence)
    console.print(f"{found.name}: vetted")


def _set_status(org: str, status: str, reason: str) -> None:
    d = open_directory()
    found = d.registration.set_status(operator(), find_organisation(d, org).id, status, reason)
    console.print(f"{found.name}: {found.status.value}")


@org_app.command("activate")
@translated
def org_activate(org: str, reason: str = typer.Option(...)) -> None:
    _set_status(org, "active", reason)


@org_app.command("suspend")
@translated
def org_suspend(org: str, reason: str = typer.Option(...)) -> None:
    _set_status(org, "suspended", reason)


@org_app.command("withdraw")
@translated
def org_withdraw(org: str, reason: str = typer.Option(...)) -> None:
    _set_status(org, "withdrawn", reason)


@org_app.command("update")
@translated
def org_update(
    org: str,
    name: str | None = typer.Option(None),
    ids: list[str] = typer.Option([], "--id", help="replace identifiers with SCHEME=VALUE"),
    clear_review: bool = typer.Option(False, help="clear the review flag"),
) -> None:
    d = open_directory()
    found = d.registration.update_organisation(
        operator(),
        find_organisation(d, org).id,
        name=name,
        identifiers=_identifiers(ids) if ids else None,
        clear_review=clear_review,
    )
    record("Organisation updated", found)


# --- domains -------------------------------------------------------------------------------
@domain_app.command("add")
@translated
def domain_add(
    org: str,
    domain: str,
    subaddress: str | None = typer.Option(None, help="sub-address separator, e.g. +"),
    as_json: bool = JSON,
) -> None:
    """Claim a domain for an organisation (unverified until checked)."""
    d = open_directory()
    found = d.registration.claim_domain(
        operator(), find_organisation(d, org).id, domain, subaddress
    )
    emit_json(found) if as_json else record("Domain claimed", found)


@domain_app.command("list")
@translated
def domain_list(org: str, as_json: bool = JSON) -> None:
    d = open_directory()
    domains = d.registration.domains_of(operator(), find_organisation(d, org).id)
    if as_json:
        emit_json(domains)
        return
    table(
        "Domains",
        ["id", "name", "verified at", "method"],
        [[x.id, x.name, x.verified_at, x.verification_method] for x in domains],
    )


@domain_app.command("verify-manual")
@translated
def domain_verify_manual(domain: str, evidence: str = typer.Option(...)) -> None:
    """Record domain control as verified by hand, with evidence (audited)."""
    d = open_directory()
    found = d.registration.record_domain_verification(
        operator(), d.registration.domain_named(domain).id, evidence
    )
    console.print(f"{found.name}: verified by hand at {found.verified_at}")


@domain_app.command("posture-manual")
@translated
def domain_posture_manual(
    domain: str,
    evidence: str = typer.Option(...),
    mta_sts: str | None = typer.Option(None, help="none, testing or enforce"),
    dmarc: str | None = typer.Option(None, help="none, quarantine or reject"),
    dane: bool = typer.Option(False),
    tls: bool = typer.Option(True),
    no_mail: bool = typer.Option(False, help="the domain accepts no mail (null MX)"),
) -> None:
    """Record a domain's mail-security posture by hand, with evidence (audited)."""
    d = open_directory()
    found = d.registration.record_posture(
        operator(),
        d.registration.domain_named(domain).id,
        evidence=evidence,
        mx=not no_mail,
        tls=tls,
        mta_sts=mta_sts,
        dane=dane,
        dmarc=dmarc,
    )
    console.print(f"{found.name}: posture recorded")


@domain_app.command("remove")
@translated
def domain_remove(domain: str) -> None:
    d = open_directory()
    d.registration.remove_domain(operator(), d.registration.domain_named(domain).id)
    console.print(f"{domain}: removed, with its recipient entries")


# --- recipients ----------------------------------------------------------------------------
@recipient_app.command("add")
@translated
def recipient_add(
    org: str,
    address: str,
    role: str = typer.Option("person", help="person, shared or system"),
    name: str | None = typer.Option(None, help="display name"),
    given_name: str | None = typer.Option(None),
    surname: str | None = typer.Option(None),
    mailbox_verified: bool = typer.Option(False, help="the mailbox proved control"),
    as_json: bool = JSON,
) -> None:
    """Add a mailbox entry."""
    d = open_directory()
    entry = d.registration.add_recipient(
        operator(),
        find_organisation(d, org).id,
        address=address,
        role=role,
        display_name=name,
        given_name=given_name,
        surname=surname,
        mailbox_verified=mailbox_verified,
    )
    emit_json(entry) if as_json else record("Recipient added", entry)


@recipient_app.command("add-domain")
@translated
def recipient_add_domain(
    org: str,
    domain: str,
    exclude: list[str] = typer.Option([], help="a local part to exclude (repeatable)"),
    as_json: bool = JSON,
) -> None:
    """Add a domain-wide entry: every mailbox of the (verified) domain, less exclusions."""
    d = open_directory()
    entry = d.registration.add_recipient(
        operator(), find_organisation(d, org).id, domain=domain, exclusions=exclude
    )
    emit_json(entry) if as_json else record("Domain-wide entry added", entry)


@recipient_app.command("list")
@translated
def recipient_list(
    org: str, limit: int = typer.Option(100, min=1, max=100000), as_json: bool = JSON
) -> None:
    d = open_directory()
    entries = d.registration.recipients_of(operator(), find_organisation(d, org).id, limit=limit)
    if as_json:
        emit_json(entries)
        return
    table(
        "Recipients",
        ["id", "kind", "address", "role", "mailbox verified", "exclusions"],
        [
            [
                r.id,
                r.kind.value,
                r.address or "(domain-wide)",
                r.role.value,
                "yes" if r.mailbox_verified_at else "no",
                ", ".join(r.exclusions),
            ]
            for r in entries
        ],
    )


@recipient_app.command("remove")
@translated
def recipient_remove(recipient_id: str) -> None:
    d = open_directory()
    d.registration.remove_recipient(operator(), recipient_id)
    console.print(f"{recipient_id}: removed")


# --- accreditations ------------------------------------------------------------------------
@accreditation_app.command("add")
@translated
def accreditation_add(
    org: str,
    scheme: str = typer.Option(..., help="e.g. psn-compliance, dspt-standards-met"),
    evidence: str = typer.Option(..., help="certificate number, assessor, link"),
    valid_from: str = typer.Option(..., "--from", help="date or ISO 8601 time"),
    expires: str = typer.Option(..., help="date or ISO 8601 time"),
    as_json: bool = JSON,
) -> None:
    d = open_directory()
    found = d.registration.add_accreditation(
        operator(),
        find_organisation(d, org).id,
        scheme,
        evidence,
        parse_time(valid_from, "--from"),
        parse_time(expires, "--expires"),
    )
    emit_json(found) if as_json else record("Accreditation recorded", found)


@accreditation_app.command("end")
@translated
def accreditation_end(accreditation_id: str) -> None:
    d = open_directory()
    d.registration.end_accreditation(operator(), accreditation_id)
    console.print(f"{accreditation_id}: ended")


# --- sponsorships --------------------------------------------------------------------------
@sponsorship_app.command("add")
@translated
def sponsorship_add(
    sponsor: str,
    sponsored: str,
    purpose: str = typer.Option(...),
    ceiling: str = typer.Option(..., help="the highest classification the sponsorship allows"),
    valid_from: str = typer.Option(..., "--from"),
    expires: str = typer.Option(...),
    as_json: bool = JSON,
) -> None:
    d = open_directory()
    found = d.registration.add_sponsorship(
        operator(),
        find_organisation(d, sponsor).id,
        find_organisation(d, sponsored).id,
        purpose,
        ceiling,
        parse_time(valid_from, "--from"),
        parse_time(expires, "--expires"),
    )
    emit_json(found) if as_json else record("Sponsorship recorded", found)


@sponsorship_app.command("end")
@translated
def sponsorship_end(sponsorship_id: str) -> None:
    d = open_directory()
    d.registration.end_sponsorship(operator(), sponsorship_id)
    console.print(f"{sponsorship_id}: ended")
