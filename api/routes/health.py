"""Liveness and readiness, without a key (for a load balancer, systemd or Kubernetes probes).

GET /healthz: the process answers HTTP (nothing else is checked).
GET /readyz: the store answers, its schema is the one this code expects, and how lookups read
(the local mirror, or the store while the mirror catches up). 200 with the checks when ready;
503 problem+json with the same checks when not. Warnings that need an operator but do not stop
service are listed either way: today, what the CA should act on to stay current with the S/MIME
BR (pki/currency.py), with the date it matters by.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.auth import directory_of
from api.problems import problem
from directory import certificates as certs
from directory.errors import DirectoryError
from directory.service import Directory

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "not ready (problem+json)"}})
async def readyz(request: Request) -> Response:
    """Ready to answer lookups: the store answers at the expected schema."""
    checks, warnings = await run_in_threadpool(_checks, directory_of(request))
    if all(c["ok"] for c in checks):
        return JSONResponse({"status": "ready", "checks": checks, "warnings": warnings})
    failed = "; ".join(f"{c['name']}: {c['detail']}" for c in checks if not c["ok"])
    return problem(
        503, "not-ready", "Not ready", failed, "/readyz", checks=checks, warnings=warnings
    )


def _checks(directory: Directory) -> tuple[list[dict[str, Any]], list[str]]:
    checks: list[dict[str, Any]] = []
    try:
        seq = directory.store.state().seq
        checks.append({"name": "store", "ok": True, "detail": f"change sequence {seq}"})
    except DirectoryError as exc:  # the store cannot answer (UNAVAILABLE): not ready
        # logged here once per probe, with the driver's cause; any other error is a fault of
        # ours and reaches the boundary (a 500, logged there)
        log.warning("not ready: %s: %s", exc.detail, exc.__cause__ or exc)
        checks.append({"name": "store", "ok": False, "detail": "does not answer"})
    if not checks[0]["ok"]:  # the store does not answer: its schema cannot be read either
        checks.append({"name": "schema", "ok": False, "detail": "not checked"})
    else:
        try:
            directory.check_schema()
            checks.append({"name": "schema", "ok": True, "detail": "current"})
        except DirectoryError as exc:
            log.warning("not ready: %s", exc.detail)
            checks.append({"name": "schema", "ok": False, "detail": exc.kind.value})
    mailboxes = directory.store.mailboxes
    reading = getattr(mailboxes, "reading_mirror", None)
    mirror = "off" if reading is None else ("current" if reading else "bypassed: reading the store")
    checks.append({"name": "lookup-mirror", "ok": True, "detail": mirror})
    return checks, [f"CA: {w}" for w in certs.ca_currency_warnings(directory.settings)]
