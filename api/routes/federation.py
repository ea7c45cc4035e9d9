"""Federation over HTTP: this directory's signed trust list (scope `federation`), and the
peers this directory imports from (directory-admin). directory.federation authorises."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from api.auth import directory_of, principal
from api.schemas import Body
from directory.authz import Action, Principal, authorize
from directory.errors import malformed
from directory.federation.importer import MAX_LIST_BYTES
from directory.federation.service import Federation

router = APIRouter(prefix="/v1/federation", tags=["federation"])


class PeerCreate(Body):
    name: str = Field(max_length=63)
    public_key: str = Field(max_length=4096, description="the peer's Ed25519 public key, PEM")
    url: str | None = Field(default=None, max_length=2000, description="its trust list URL")
    max_trust: str | None = Field(
        default=None, max_length=40, description="default organisation-verified"
    )
    permitted: list[Annotated[str, Field(max_length=253)]] = Field(
        min_length=1,
        max_length=1000,
        description="name constraints: the domain suffixes the peer may speak for "
        "(nhs.uk covers cwh.nhs.uk); entries outside them are refused at import",
    )


class PeerConstraints(Body):
    permitted: list[Annotated[str, Field(max_length=253)]] = Field(min_length=1, max_length=1000)


def _federation(request: Request) -> Federation:
    return Federation(directory_of(request))


@router.get("/trust-list")
def trust_list(request: Request, caller: Principal = Depends(principal)) -> dict[str, str]:
    """This directory's trust list, issued now and signed (envelope: payload, signature,
    key_id). Scope `federation` or directory-admin."""
    return _federation(request).trust_list(caller)


@router.get("/peers")
def list_peers(request: Request, caller: Principal = Depends(principal)) -> list[dict[str, Any]]:
    return _federation(request).peers(caller)


@router.post("/peers", status_code=201)
def add_peer(
    body: PeerCreate, request: Request, caller: Principal = Depends(principal)
) -> dict[str, Any]:
    federation = _federation(request)
    peer = federation.add_peer(
        caller, body.name, body.public_key, body.url, body.max_trust, body.permitted
    )
    return federation.describe(peer)


@router.put("/peers/{name}/permitted")
def constrain_peer(
    name: str, body: PeerConstraints, request: Request, caller: Principal = Depends(principal)
) -> dict[str, Any]:
    """Replace the peer's name constraints; what it listed outside them is removed now."""
    federation = _federation(request)
    return federation.describe(federation.constrain(caller, name, body.permitted))


@router.post("/peers/{name}/suspend")
def suspend_peer(
    name: str, request: Request, caller: Principal = Depends(principal)
) -> dict[str, Any]:
    federation = _federation(request)
    return federation.describe(federation.suspend(caller, name))


@router.post("/peers/{name}/resume")
def resume_peer(
    name: str, request: Request, caller: Principal = Depends(principal)
) -> dict[str, Any]:
    federation = _federation(request)
    return federation.describe(federation.resume(caller, name))


@router.delete("/peers/{name}", status_code=204)
def remove_peer(name: str, request: Request, caller: Principal = Depends(principal)) -> Response:
    _federation(request).remove(caller, name)
    return Response(status_code=204)


@router.post("/peers/{name}/import")
async def import_list(
    name: str, request: Request, caller: Principal = Depends(principal)
) -> dict[str, Any]:
    """Import the peer's signed trust list (the body is the envelope, as GET /trust-list of
    the peer serves it). Refused whole on any problem; nothing changes then."""
    authorize(caller, Action.MANAGE_FEDERATION)  # before reading a body of up to 64 MiB
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_LIST_BYTES):
        raise malformed(f"the trust list is larger than {MAX_LIST_BYTES} bytes", field="body")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_LIST_BYTES:
            raise malformed(f"the trust list is larger than {MAX_LIST_BYTES} bytes", field="body")
    federation = _federation(request)
    report = await run_in_threadpool(federation.import_list, caller, name, bytes(raw))
    return report.as_dict()
