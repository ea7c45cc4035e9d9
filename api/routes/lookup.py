"""GET /v1/lookup and POST /v1/lookups: the hot path, kept lean (no response validation)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api.auth import directory_of, principal
from api.schemas import BatchAnswer, BatchLookup, LookupAnswer
from directory.authz import Action, Principal, authorize, detail_rule

router = APIRouter(prefix="/v1", tags=["lookup"])


@router.get(
    "/lookup",
    response_model=LookupAnswer,
    summary="May this address receive information at this classification?",
)
async def lookup_one(
    request: Request,
    caller: Principal = Depends(principal),
    address: str = Query(max_length=1024, description="the recipient's address"),
    classification: str | None = Query(default=None, max_length=200),
) -> Response:
    directory = directory_of(request)
    authorize(caller, Action.LOOKUP)
    answer = directory.lookup.lookup(address, classification, detail_rule(caller))
    return Response(json.dumps(answer), media_type="application/json")


@router.post(
    "/lookups",
    response_model=BatchAnswer,
    summary="Look up a batch of addresses in one answer",
)
async def lookup_batch(
    request: Request, body: BatchLookup, caller: Principal = Depends(principal)
) -> Response:
    directory = directory_of(request)
    authorize(caller, Action.LOOKUP)
    answers = directory.lookup.lookup_many(body.addresses, body.classification, detail_rule(caller))
    return Response(json.dumps({"answers": answers}), media_type="application/json")
