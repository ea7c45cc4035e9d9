"""The audit log: read it, and verify its hash chain."""

from __future__ import annotations

import typer

from api.cli.context import console, emit_json, open_directory, operator, table
from api.cli.errors import translated

app = typer.Typer(help="The append-only, hash-chained audit log.", no_args_is_help=True)


@app.command("verify")
@translated
def verify(as_json: bool = typer.Option(False, "--json")) -> None:
    """Recompute the chain; exit 1 if any entry was edited, inserted or deleted."""
    checked, problems = open_directory().registration.verify_audit(operator())
    if as_json:
        emit_json({"checked": checked, "ok": not problems, "problems": problems})
    elif problems:
        table(
            "Audit log problems",
            ["position", "problem", "detail"],
            [[p.position, p.problem, p.detail] for p in problems],
        )
    else:
        console.print(f"audit log intact: {checked} entries, chain verified")
    if problems:
        raise typer.Exit(1)


@app.command("log")
@translated
def log(
    after: int = typer.Option(0, min=0, help="show entries after this position"),
    limit: int = typer.Option(50, min=1, max=10000),
    entity: str | None = typer.Option(None, help="only entries about this record id"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    entries = open_directory().registration.audit_entries(
        operator(), after=after, limit=limit, entity_id=entity
    )
    if as_json:
        emit_json(entries)
        return
    table(
        "Audit log",
        ["#", "at", "actor", "action", "entity id"],
        [[e.position, e.at, e.actor, e.action, e.entity_id] for e in entries],
    )
