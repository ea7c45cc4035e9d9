"""`clearance`: the command line. Rich tables for people, --json for scripts."""

from __future__ import annotations

from typing import Any

import typer

from api import logs
from api.cli import audit, keys, registry
from api.cli import dns as dns_cli  # also adds `domain claim|verify|check`
from api.cli import federation as federation_cli
from api.cli import gateway as gateway_cli
from api.cli import ldap as ldap_cli  # also adds `recipient import-ldap` and `import-csv`
from api.cli import pki as pki_cli
from api.cli.context import console, emit_json, open_directory, table
from api.cli.errors import BAD_INPUT, NO, OK, fail, translated

app = typer.Typer(
    name="clearance",
    help="Clearance: may this address receive information at this classification?",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(registry.org_app, name="org")
app.add_typer(registry.domain_app, name="domain")
app.add_typer(registry.recipient_app, name="recipient")
app.add_typer(registry.accreditation_app, name="accreditation")
app.add_typer(registry.sponsorship_app, name="sponsorship")
app.add_typer(keys.app, name="apikey")
app.add_typer(audit.app, name="audit")
app.add_typer(dns_cli.verify_app, name="verify")
app.add_typer(gateway_cli.app, name="gateway")
app.add_typer(ldap_cli.app, name="ldap")
app.add_typer(pki_cli.ca_app, name="ca")
app.add_typer(pki_cli.cert_app, name="cert")
app.add_typer(federation_cli.app, name="federation")


@app.command()
@translated
def init() -> None:
    """Create or upgrade the directory's store (idempotent)."""
    from directory.federation import keys as federation_keys

    directory = open_directory(check=False)
    directory.initialise()
    federation_keys.ensure_signing_key(directory.settings)
    url = directory.store.engine.url.render_as_string(hide_password=True)
    console.print(f"directory ready at {url}")
    directory.close()


@app.command()
@translated
def demo(
    host: str = typer.Option("127.0.0.1", help="where `clearance serve` will listen"),
    port: int = typer.Option(8000, min=1, max=65535, help="... and on which port"),
) -> None:
    """Seed a demo directory (idempotent) and print lookups to try, with a lookup API key."""
    from directory import demo as demo_data
    from directory.federation import keys as federation_keys

    directory = open_directory(check=False)
    directory.initialise()
    made = demo_data.seed(directory)
    federation_keys.ensure_signing_key(directory.settings)
    secret = demo_data.demo_api_key(directory)
    serial = demo_data.demo_certificate(directory)
    if serial:
        console.print(f"Demo CA set up; certificate {serial} issued to j.smith@wessex.gov.uk")
    key_file = directory.settings.home / "demo-api-key"
    key_file.write_text(secret + "\n")
    key_file.chmod(0o600)
    if made:
        console.print("[bold]Created:[/]")
        for line in made:
            console.print(f"  {line}")
    else:
        console.print("The demo organisations already exist; nothing created.")
    rows = []
    for address, classification, why in demo_data.TRY:
        answer = directory.lookup.lookup(address, classification)
        rows.append(
            [
                address,
                classification or "-",
                answer["max_classification"] or "none",
                {True: "yes", False: "no", None: "-"}[answer["permitted"]],
                why,
            ]
        )
    table("Lookups to try", ["address", "asked", "max", "permitted", "why"], rows)
    print(f"\nDemo lookup API key (shown once, also in {key_file}):\n  {secret}\n")
    print("Try:")
    print("  clearance lookup j.smith@wessex.gov.uk --classification OFFICIAL-SENSITIVE")
    print(
        f"  curl -s -H 'Authorization: Bearer {secret}' "
        f"'http://{host}:{port}/v1/lookup?address=finance@budmouth.gov.uk"
        "&classification=OFFICIAL-SENSITIVE'"
    )
    directory.close()


@app.command()
@translated
def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, min=1, max=65535),
    workers: int = typer.Option(1, min=1, max=64, help="uvicorn worker processes"),
    access_log: bool = typer.Option(
        False, "--access-log", help="log one line per request (sets access_log; log_level info)"
    ),
) -> None:
    """Serve the HTTP API (uvicorn). Logs one JSON line per event on stderr (log_level)."""
    import os

    import uvicorn

    if access_log:  # the workers read their settings from the environment
        os.environ["CLEARANCE_ACCESS_LOG"] = "true"
        if os.environ.get("CLEARANCE_LOG_LEVEL", "warning") in ("warning", "error"):
            os.environ["CLEARANCE_LOG_LEVEL"] = "info"
    directory = open_directory()  # refuse to start on a bad configuration or an old schema
    level = directory.settings.log_level
    directory.close()
    console.print(f"Clearance API on http://{host}:{port} (OpenAPI at /docs)")
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=level,
        access_log=False,  # ours (api/boundary.py) carries the request id
        proxy_headers=False,
        # each worker: at most 1,000 connections and requests at once (503 beyond), idle
        # keep-alive connections closed after 15 s; bodies are limited per route as they are
        # read (api/app.py body_limits: 413); request heads limited in size, header count and
        # time, stalled bodies closed (api/http_guard.py). docs/operations.md: what each covers.
        limit_concurrency=1000,
        timeout_keep_alive=15,
        http="api.http_guard:GuardedHttpToolsProtocol",
    )


@app.command()
@translated
def lookup(
    address: str = typer.Argument(..., help="the recipient's address"),
    classification: str | None = typer.Option(None, "--classification", "-c"),
    as_json: bool = typer.Option(False, "--json", help="print the answer as JSON"),
) -> None:
    """Look an address up. Exit 0 permitted (or verified), 1 not, 2 bad input, 3 unavailable."""
    directory = open_directory()
    try:
        answer = directory.lookup.lookup(address, classification, lambda _org: True)
    finally:
        directory.close()
    if as_json:
        emit_json(answer)
    else:
        _show_answer(answer)
    if answer["permitted"] is True:
        raise typer.Exit(OK)
    if answer["permitted"] is None and answer["max_classification"] is not None:
        raise typer.Exit(OK)
    raise typer.Exit(NO)


def _show_answer(answer: dict[str, Any]) -> None:
    org = answer["organisation"] or {}
    verdict = {True: "[green]permitted[/]", False: "[red]not permitted[/]", None: "-"}
    rows = [
        ["address", answer["address"]],
        ["known", "yes" if answer["known"] else "no"],
        ["matched", answer["matched"] or "-"],
        ["organisation", f"{org.get('name')} ({org.get('sector')})" if org else "-"],
        ["trust level", answer["trust_level"]],
        ["max classification", answer["max_classification"] or "none"],
        ["asked", answer["classification"] or "-"],
        ["answer", verdict[answer["permitted"]]],
        ["valid until", answer["valid_until"]],
        ["policy", f"{answer['policy']['name']} {answer['policy']['digest'][:19]}..."],
    ]
    table("Lookup", ["", ""], rows)
    if answer["reasons"]:
        table(
            "Why not higher",
            ["classification", "code", "message"],
            [[r["classification"], r["code"], r["message"]] for r in answer["reasons"]],
        )


def main() -> None:
    logs.configure("warning", structured=False)  # open_directory sets the configured level
    try:
        app()
    except KeyboardInterrupt:
        raise SystemExit(BAD_INPUT) from None


__all__ = ["app", "fail", "main"]
