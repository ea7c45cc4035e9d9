"""`clearance gateway serve`: the Postfix policy service and socketmap (tlspolicy, recipient)."""

from __future__ import annotations

import typer

from api.cli.context import open_directory
from api.cli.errors import translated
from api.gateway.rules import MODES

app = typer.Typer(
    help="The mail gateway: Postfix policy service and socketmap.", no_args_is_help=True
)


@app.command()
@translated
def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    policy_port: int = typer.Option(10040, min=1, max=65535, help="policy delegation port"),
    socketmap_port: int = typer.Option(10041, min=1, max=65535, help="socketmap port"),
    mode: str | None = typer.Option(
        None, help=f"override the mode of config/gateway.toml: {', '.join(MODES)}"
    ),
    workers: int = typer.Option(
        2, min=1, max=64, help="worker processes sharing both ports (SO_REUSEPORT)"
    ),
    lookup_threads: int = typer.Option(
        1, min=0, max=16, help="lookup threads per worker (0: look up on the event loop)"
    ),
    answer_cache: int | None = typer.Option(
        None, min=0, help="override answer_cache_entries of config/gateway.toml (0: off)"
    ),
) -> None:
    """Serve Postfix: check_policy_service and socketmap (smtp_tls_policy_maps)."""
    from api.gateway.server import Gateway, gateway_rules, run, run_workers  # this command only

    if workers > 1:
        status = run_workers(
            open_directory,
            {"mode": mode, "answer_cache_entries": answer_cache},
            workers=workers,
            lookup_threads=lookup_threads,
            host=host,
            policy_port=policy_port,
            socketmap_port=socketmap_port,
        )
        raise typer.Exit(status)
    directory = open_directory(serving=True)
    try:
        rules = gateway_rules(directory, mode=mode, answer_cache_entries=answer_cache)
        gateway = Gateway(directory, rules, lookup_threads=lookup_threads)
        run(gateway, host, policy_port, socketmap_port)
    finally:
        directory.close()
