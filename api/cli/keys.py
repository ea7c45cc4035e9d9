"""API keys: created with scopes, shown once, revocable."""

from __future__ import annotations

import typer

from api.cli.context import console, emit_json, open_directory, operator, table
from api.cli.errors import translated

app = typer.Typer(help="API keys for the HTTP API.", no_args_is_help=True)


@app.command("create")
@translated
def create(
    scope: list[str] = typer.Option(
        ..., help="lookup, directory-admin, federation or org-admin:<org id>"
    ),
    name: str = typer.Option("api key", help="what the key is for"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Create an API key. The key is printed once and stored only as a hash."""
    d = open_directory()
    key, secret = d.registration.create_api_key(operator(), name, scope)
    if as_json:
        emit_json({"id": key.id, "name": key.name, "scopes": key.scopes, "key": secret})
    else:
        console.print(f"id:     {key.id}\nscopes: {', '.join(key.scopes)}")
        console.print("key (shown once, store it now):")
        print(secret)


@app.command("list")
@translated
def list_keys(as_json: bool = typer.Option(False, "--json")) -> None:
    keys = open_directory().registration.api_keys(operator())
    if as_json:
        emit_json(keys)
        return
    table(
        "API keys",
        ["id", "name", "scopes", "created", "revoked"],
        [[k.id, k.name, ", ".join(k.scopes), k.created_at, k.revoked_at] for k in keys],
    )


@app.command("revoke")
@translated
def revoke(key_id: str) -> None:
    open_directory().registration.revoke_api_key(operator(), key_id)
    console.print(f"{key_id}: revoked")
