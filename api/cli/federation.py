"""`clearance federation`: this directory's signing key and trust list, peers, imports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from api.cli.context import console, emit_json, open_directory, operator, table
from api.cli.errors import translated
from directory.errors import malformed

if TYPE_CHECKING:
    from directory.federation.importer import ImportReport
    from directory.federation.service import Federation
    from directory.service import Directory

app = typer.Typer(help="Federation: signed trust lists and peer directories.", no_args_is_help=True)
key_app = typer.Typer(help="This directory's federation signing key.", no_args_is_help=True)
peer_app = typer.Typer(
    help="Peer directories whose trust lists are imported.", no_args_is_help=True
)
app.add_typer(key_app, name="key")
app.add_typer(peer_app, name="peer")


def _federation(directory: Directory) -> Federation:
    # the federation service (the store, HTTP fetching): imported by the commands that use it
    from directory.federation.service import Federation

    return Federation(directory)


def _read(path: Path, what: str, limit: int) -> bytes:
    try:
        if path.stat().st_size > limit:
            raise malformed(f"{path}: the {what} is larger than {limit} bytes")
        return path.read_bytes()
    except OSError as exc:
        raise malformed(f"{path}: cannot read the {what} ({exc.strerror})") from None


@key_app.command("init")
@translated
def key_init() -> None:
    """Create the signing key if absent (never replaces one)."""
    from directory.federation import keys  # cryptography: imported by the commands using it

    directory = open_directory(check=False)
    try:
        created = keys.ensure_signing_key(directory.settings)
        _, kid = keys.public_key(directory.settings)
    finally:
        directory.close()
    console.print(f"{'created' if created else 'exists'}: {keys.key_path(directory.settings)}")
    print(kid)


@key_app.command("show")
@translated
def key_show(as_json: bool = typer.Option(False, "--json")) -> None:
    """Print the public key (PEM) and its key id (sha256 of the SPKI DER), to give to peers."""
    from directory.federation import keys

    directory = open_directory(check=False)
    try:
        pem, kid = keys.public_key(directory.settings)
    finally:
        directory.close()
    if as_json:
        emit_json({"public_key": pem, "key_id": kid})
        return
    print(pem, end="")
    print(kid)


@app.command("export")
@translated
def export(out: Path | None = typer.Option(None, "--out", help="write here, not stdout")) -> None:
    """Issue and sign this directory's trust list now (the envelope, as JSON)."""
    directory = open_directory()
    try:
        envelope = _federation(directory).trust_list(operator())
    finally:
        directory.close()
    text = json.dumps(envelope, indent=2) + "\n"
    if out is None:
        print(text, end="")
        return
    out.write_text(text)
    console.print(f"trust list written to {out}")


@app.command("import")
@translated
def import_list(
    name: str = typer.Argument(..., help="the peer's name"),
    file: Path | None = typer.Argument(None, help="an envelope file (or --fetch)"),
    fetch: bool = typer.Option(False, "--fetch", help="GET it from the peer's URL"),
    api_key_file: Path | None = typer.Option(None, help="a file holding the peer's API key"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Verify a peer's signed trust list and replace what is imported from it."""
    if (file is None) == (not fetch):
        raise malformed("give either a FILE or --fetch")
    if api_key_file is not None and not fetch:
        raise malformed("--api-key-file goes with --fetch")
    from directory.federation.importer import MAX_LIST_BYTES

    directory = open_directory()
    try:
        federation = _federation(directory)
        if file is not None:
            report = federation.import_list(
                operator(), name, _read(file, "trust list", MAX_LIST_BYTES)
            )
        else:
            key = None
            if api_key_file is not None:
                key = _read(api_key_file, "API key file", 4096).decode(errors="replace").strip()
            report = federation.fetch_and_import(operator(), name, key)
    finally:
        directory.close()
    _show_report(report, as_json)


def _show_report(report: ImportReport, as_json: bool) -> None:
    if as_json:
        emit_json(report.as_dict())
        return
    console.print(
        f"{report.peer}: imported {report.domains} domains and {report.mailboxes} mailboxes "
        f"from the list issued {report.issued_at.isoformat()} (valid until "
        f"{report.valid_until.isoformat()}), {report.digest}"
    )
    if report.skipped:
        table(
            "Skipped",
            ["domain", "reason", "peer"],
            [[s["domain"], s["reason"], s.get("peer")] for s in report.skipped],
        )


@peer_app.command("add")
@translated
def peer_add(
    name: str = typer.Argument(...),
    public_key: Path = typer.Option(..., "--public-key", help="the peer's public key, PEM"),
    url: str | None = typer.Option(None, "--url", help="its trust list URL"),
    max_trust: str = typer.Option(
        "organisation-verified",
        "--max-trust",
        help="domain-verified, organisation-verified "
        "or accredited: the most granted to its entries",
    ),
    permit: list[str] = typer.Option(
        ...,
        "--permit",
        help="a domain suffix the peer may speak for (repeat; nhs.uk covers cwh.nhs.uk): "
        "entries outside are refused at import",
    ),
) -> None:
    """Add a peer directory (nothing is imported until `federation import`)."""
    pem = _read(public_key, "public key", 4096).decode(errors="replace")
    directory = open_directory()
    try:
        peer = _federation(directory).add_peer(operator(), name, pem, url, max_trust, permit)
    finally:
        directory.close()
    console.print(
        f"peer {peer.name} added: {peer.key_id}, max trust {peer.max_trust.label}, "
        f"permitted {', '.join(peer.permitted)}"
    )


@peer_app.command("constrain")
@translated
def peer_constrain(
    name: str = typer.Argument(...),
    permit: list[str] = typer.Option(
        ..., "--permit", help="a domain suffix the peer may speak for (repeat)"
    ),
) -> None:
    """Replace the peer's name constraints; entries it listed outside them are removed now."""
    directory = open_directory()
    try:
        peer = _federation(directory).constrain(operator(), name, permit)
    finally:
        directory.close()
    console.print(f"peer {peer.name} permitted {', '.join(peer.permitted)}")


@peer_app.command("list")
@translated
def peer_list(as_json: bool = typer.Option(False, "--json")) -> None:
    directory = open_directory()
    try:
        peers = _federation(directory).peers(operator())
    finally:
        directory.close()
    if as_json:
        emit_json(peers)
        return
    table(
        "Federation peers",
        [
            "name",
            "status",
            "max trust",
            "permitted",
            "list issued",
            "valid until",
            "domains",
            "mailboxes",
        ],
        [
            [
                p["name"],
                p["status"],
                p["max_trust"],
                ", ".join(p["permitted"]),
                p["list_issued_at"] or "-",
                (p["list_valid_until"] or "-") + (" (expired)" if p["list_expired"] else ""),
                p["domains"],
                p["mailboxes"],
            ]
            for p in peers
        ],
    )


@peer_app.command("suspend")
@translated
def peer_suspend(name: str) -> None:
    """Stop counting the peer's entries (they answer unknown); its list is kept."""
    directory = open_directory()
    try:
        _federation(directory).suspend(operator(), name)
    finally:
        directory.close()
    console.print(f"peer {name} suspended")


@peer_app.command("resume")
@translated
def peer_resume(name: str) -> None:
    directory = open_directory()
    try:
        _federation(directory).resume(operator(), name)
    finally:
        directory.close()
    console.print(f"peer {name} active")


@peer_app.command("remove")
@translated
def peer_remove(name: str) -> None:
    """Remove the peer and everything imported from it."""
    directory = open_directory()
    try:
        _federation(directory).remove(operator(), name)
    finally:
        directory.close()
    console.print(f"peer {name} removed")
