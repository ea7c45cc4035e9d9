"""The yardstick for HTTP figures: a bare FastAPI endpoint over the same indexed recipients table,
with no authentication, normalisation or policy: what uvicorn + FastAPI + the database can do
on this machine right now. `bench/lookup.py --modes reference` serves it like the real API
(uvicorn, 2 workers, log level warning, no access log) and drives it with the same load.

BENCH_REFERENCE_URL: a SQLAlchemy URL (sqlite:///PATH or postgresql+psycopg://...).
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from fastapi import FastAPI, Query
from fastapi.responses import Response

SQL = (
    "SELECT address, role FROM recipients "
    "WHERE status = 'active' AND kind = 'mailbox' AND address = {marker}"
)


def create_app() -> FastAPI:
    url = os.environ["BENCH_REFERENCE_URL"]
    conn: Any
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.split("///", 1)[1], check_same_thread=False)
        sql = SQL.format(marker="?")
    else:
        import psycopg

        conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
        conn.autocommit = True
        sql = SQL.format(marker="%s")
    app = FastAPI()

    @app.get("/v1/lookup")
    async def lookup(address: str = Query(max_length=1024)) -> Response:
        row = conn.execute(sql, (address.lower(),)).fetchone()
        body = b'{"known": true}' if row else b'{"known": false}'
        return Response(body, media_type="application/json")

    return app
