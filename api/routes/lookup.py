"""GET /v1/lookup and POST /v1/lookups: the hot path, kept lean.

GET /v1/lookup reads its two query parameters and the API key itself instead of through
FastAPI's dependency resolution, which cost about half the CPU of a request. Behaviour is the
same as the declared form (`address: str = Query(max_length=1024)`, `classification: str | None
= Query(None, max_length=200)`, `Depends(principal)`): the key is checked first (401), then the
query (422 with the same pydantic messages), and the OpenAPI description is unchanged. Answers
are encoded with orjson; they come from the directory's per-process answer cache when it holds
them (directory/lookup.py), with `checked_at` and `valid_until` always of this request; the
lookups it does not hold are answered together, once per event-loop iteration (api/batcher.py).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError

from api.auth import caller_of, directory_of, principal
from api.batcher import LookupBatcher
from api.schemas import BatchAnswer, BatchLookup, LookupAnswer
from directory.authz import Action, Principal, authorize, detail_rule

router = APIRouter(prefix="/v1", tags=["lookup"])

MAX_ADDRESS = 1024
MAX_CLASSIFICATION = 200


class LookupQuery(BaseModel):
    """The query of GET /v1/lookup: validated here only to describe a bad query exactly as
    FastAPI would have."""

    address: str = Field(max_length=MAX_ADDRESS, description="the recipient's address")
    classification: str | None = Field(default=None, max_length=MAX_CLASSIFICATION)


_OPENAPI: dict[str, Any] = {
    "parameters": [
        {
            "description": "the recipient's address",
            "in": "query",
            "name": "address",
            "required": True,
            "schema": {
                "description": "the recipient's address",
                "maxLength": MAX_ADDRESS,
                "title": "Address",
                "type": "string",
            },
        },
        {
            "in": "query",
            "name": "classification",
            "required": False,
            "schema": {
                "anyOf": [{"maxLength": MAX_CLASSIFICATION, "type": "string"}, {"type": "null"}],
                "title": "Classification",
            },
        },
    ],
    "security": [{"HTTPBearer": []}],
    "responses": {
        "422": {
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
            },
            "description": "Validation Error",
        }
    },
}


@router.get(
    "/lookup",
    response_model=LookupAnswer,
    summary="May this address receive information at this classification?",
    openapi_extra=_OPENAPI,
)
async def lookup_one(request: Request) -> Response:
    caller = caller_of(request)  # every call: 401 before anything else
    query = request.query_params
    address = query.get("address")
    classification = query.get("classification")
    if (
        address is None
        or len(address) > MAX_ADDRESS
        or (classification is not None and len(classification) > MAX_CLASSIFICATION)
    ):
        raise _invalid(address, classification)
    authorize(caller, Action.LOOKUP)
    batcher: LookupBatcher = request.app.state.lookups
    answer = await batcher.answer(address, classification, detail_rule(caller))
    return Response(orjson.dumps(answer), media_type="application/json")


def _invalid(address: str | None, classification: str | None) -> RequestValidationError:
    try:
        given = {"address": address, "classification": classification}
        LookupQuery.model_validate({k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        errors = [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
        return RequestValidationError(errors)
    return RequestValidationError([{"loc": ("query",), "msg": "invalid", "type": "value_error"}])


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
    batcher: LookupBatcher = request.app.state.lookups
    detail = detail_rule(caller)
    answers = directory.lookup.cached_many(body.addresses, body.classification, detail)
    if answers is None:  # the store is read off the event loop, within the deadline
        answers = await batcher.run(
            directory.lookup.lookup_many, body.addresses, body.classification, detail
        )
    return Response(orjson.dumps({"answers": answers}), media_type="application/json")
