"""`clearance ldap publish|sync` and `clearance recipient import-ldap|import-csv`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from api.cli.context import console, emit_json, find_organisation, open_directory, operator, table
from api.cli.errors import translated
from api.cli.registry import recipient_app

# ldap3 and the publisher are imported by these commands only (imports inside them), so that every
# other command starts without them
if TYPE_CHECKING:
    from directory.publish.importer import Candidate, ImportPlan, Mapping
    from directory.publish.publish import PublishReport
    from directory.service import Directory

app = typer.Typer(
    help="Publish the directory to OpenLDAP (for Postfix, Exim and mail clients).",
    no_args_is_help=True,
)
JSON = typer.Option(False, "--json", help="print JSON")


def _show(report: PublishReport, as_json: bool) -> None:
    if as_json:
        emit_json(report)
        return
    kind = "full publish" if report.full else "sync"
    console.print(
        f"{kind} to change {report.seq}: {report.added} added, {report.modified} modified, "
        f"{report.deleted} deleted, {report.unchanged} unchanged; "
        f"{report.operations} LDAP writes in {report.seconds:.2f} s"
    )


@app.command()
@translated
def publish(as_json: bool = JSON) -> None:
    """Publish every verified, active entry; remove everything else that was published."""
    from directory.publish.publish import publisher_from_settings

    directory = open_directory()
    try:
        _show(publisher_from_settings(directory).publish(), as_json)
    finally:
        directory.close()


@app.command()
@translated
def sync(
    watch: bool = typer.Option(False, "--watch", help="keep syncing until interrupted"),
    interval: float = typer.Option(5.0, min=0.5, max=3600, help="seconds between syncs"),
    as_json: bool = JSON,
) -> None:
    """Send only what changed since the last publish or sync (a full publish the first time)."""
    from directory.publish.publish import publisher_from_settings

    directory = open_directory()
    try:
        publisher = publisher_from_settings(directory)
        while True:
            report = publisher.sync()
            if not watch or report.operations > 1 or report.full:
                _show(report, as_json)
            if not watch:
                return
            time.sleep(interval)
    finally:
        directory.close()


# --- imports ------------------------------------------------------------------------------
def _mapping(directory: Directory, path: Path | None) -> Mapping:
    from directory.publish.importer import Mapping

    return Mapping.load(path or directory.settings.config_dir / "ldap" / "import.toml")


def _run_import(
    directory: Directory, org_ref: str, read: object, dry_run: bool, as_json: bool
) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

    from directory.publish.importer import RecipientImport

    org = find_organisation(directory, org_ref)
    importer = RecipientImport(directory, operator(), org.id)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
    )
    with Progress(*columns, console=console, transient=True, disable=as_json) as progress:
        task = progress.add_task("reading", total=None)
        candidates: list[Candidate] = list(
            read(lambda n: progress.update(task, completed=n))  # type: ignore[operator]
        )
        plan = importer.plan(candidates)
        if not dry_run and (plan.add or plan.rename):
            writing = progress.add_task("writing", total=len(plan.add) + len(plan.rename))
            importer.apply(plan, lambda n: progress.update(writing, completed=n))
    _report(org.name, plan, dry_run, as_json)


def _report(org_name: str, plan: ImportPlan, dry_run: bool, as_json: bool) -> None:
    if as_json:
        emit_json(
            {
                "organisation": org_name,
                "dry_run": dry_run,
                "read": plan.read,
                "added": [m.address for m in plan.add],
                "renamed": [a for _, a, _ in plan.rename],
                "unchanged": len(plan.unchanged),
                "skipped": [{"entry": what, "reason": why} for what, why in plan.skipped],
            }
        )
        return
    verb = "would add" if dry_run else "added"
    if plan.add:
        table(
            f"{verb} ({len(plan.add)})",
            ["address", "name", "role"],
            [[m.address, m.display_name, m.role] for m in plan.add[:200]],
        )
    if plan.rename:
        table(
            f"{'would rename' if dry_run else 'renamed'} ({len(plan.rename)})",
            ["address", "new name"],
            [[a, n] for _, a, n in plan.rename],
        )
    if plan.skipped:
        table(f"skipped ({len(plan.skipped)})", ["entry", "why"], [list(s) for s in plan.skipped])
    console.print(
        f"{org_name}: read {plan.read}; {verb} {len(plan.add)}, "
        f"{'would rename' if dry_run else 'renamed'} {len(plan.rename)}, "
        f"unchanged {len(plan.unchanged)}, skipped {len(plan.skipped)}"
        + (" (dry run: nothing changed)" if dry_run else "")
    )


@recipient_app.command("import-ldap")
@translated
def import_ldap(
    org: str = typer.Argument(..., help="organisation id, name or one of its domains"),
    url: str = typer.Option(..., help="the organisation's LDAP / AD, e.g. ldaps://dc1.example:636"),
    base: str = typer.Option(..., help="search base, e.g. ou=Staff,dc=example,dc=org"),
    search_filter: str | None = typer.Option(
        None, "--filter", help="LDAP filter (default: ldap.filter in config/ldap/import.toml)"
    ),
    bind_dn: str = typer.Option("", help="bind DN (default: anonymous)"),
    password_file: Path | None = typer.Option(None, help="file holding the bind password"),
    mapping_file: Path | None = typer.Option(None, "--mapping", help="attribute mapping TOML"),
    dry_run: bool = typer.Option(False, "--dry-run", help="show what would change; change nothing"),
    as_json: bool = JSON,
) -> None:
    """Import mailboxes from an organisation's LDAP or Active Directory (paged search)."""
    from directory.publish.connection import LDAPTarget, read_password
    from directory.publish.importer import read_ldap

    directory = open_directory()
    try:
        mapping = _mapping(directory, mapping_file)
        target = LDAPTarget(url, base, bind_dn, read_password(password_file))
        chosen = search_filter or mapping.ldap_filter
        _run_import(
            directory,
            org,
            lambda progress: read_ldap(target, chosen, mapping, progress),
            dry_run,
            as_json,
        )
    finally:
        directory.close()


@recipient_app.command("import-csv")
@translated
def import_csv(
    org: str = typer.Argument(..., help="organisation id, name or one of its domains"),
    file: Path = typer.Argument(..., help="CSV with a header row: address, display_name, ..."),
    mapping_file: Path | None = typer.Option(None, "--mapping", help="column mapping TOML"),
    dry_run: bool = typer.Option(False, "--dry-run", help="show what would change; change nothing"),
    as_json: bool = JSON,
) -> None:
    """Import mailboxes from a CSV file (columns per config/ldap/import.toml)."""
    from directory.publish.importer import read_csv

    directory = open_directory()
    try:
        mapping = _mapping(directory, mapping_file)
        _run_import(
            directory, org, lambda progress: read_csv(file, mapping, progress), dry_run, as_json
        )
    finally:
        directory.close()
