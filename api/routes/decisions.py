"""POST /v1/decisions: per recipient `allow`, `encrypt` or `block` for one message's labels."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import directory_of, principal
from api.batcher import LookupBatcher
from directory.authz import Action, Principal, authorize, detail_rule
from directory.decisions import decide
from directory.labels import MAX_HEADERS, LabelRules, load_label_rules, read_label
from directory.service import Directory

router = APIRouter(prefix="/v1", tags=["decisions"])


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    headers: str = Field(
        max_length=MAX_HEADERS,
        description="the message's header section (RFC 5322 text; folded lines are fine)",
    )
    recipients: list[str] = Field(min_length=1, description="up to the batch limit (1,000)")


def label_rules(request: Request, directory: Directory) -> LabelRules:
    """config/labels.toml, read once per application and checked against the policy's scheme."""
    rules: LabelRules | None = getattr(request.app.state, "label_rules", None)
    if rules is None:
        path = directory.settings.config_dir / "labels.toml"
        rules = load_label_rules(path, directory.policy.scheme)
        request.app.state.label_rules = rules
    return rules


@router.post("/decisions", summary="Allow, encrypt or block each recipient of a labelled message")
async def decisions(
    request: Request, body: DecisionRequest, caller: Principal = Depends(principal)
) -> Response:
    directory = directory_of(request)
    authorize(caller, Action.LOOKUP)
    rules = label_rules(request, directory)
    label = read_label(body.headers, rules)
    batcher: LookupBatcher = request.app.state.lookups  # off the loop, within its deadline
    answer = await batcher.run(
        decide, directory.lookup, label, rules, body.recipients, detail_rule(caller)
    )
    return Response(json.dumps(answer), media_type="application/json")
