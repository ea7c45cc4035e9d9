"""Per-recipient decisions for one message: `allow`, `encrypt` or `block`, with reasons.

1. Read the message's label (directory.labels); no label means the configured `unlabelled`
   classification; a label present but not understood blocks every recipient (fail closed).
2. Look every recipient up at that classification (one batch through the same Lookup as the API).
3. Decide per recipient:
   - `allow`: the lookup permits the classification and the policy does not require S/MIME;
   - `encrypt`: permitted only if the message is sent S/MIME-encrypted to one of the listed
     certificates: the policy requires a certificate at that classification, or the only thing
     refusing it is the domain's transport security and the recipient holds a valid certificate
     (end-to-end encryption stands in for the transport);
   - `block`: anything else, with the lookup's reasons for that classification.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from directory.classification import Level
from directory.labels import LabelRules, MessageLabel
from directory.lookup import DetailRule, Lookup, no_detail

ALLOW, ENCRYPT, BLOCK = "allow", "encrypt", "block"
# Refusals that S/MIME encryption to a valid certificate makes good.
TRANSPORT_CODES = frozenset({"posture.transport", "posture.unknown", "posture.stale"})
# Decision reasons (stable codes, beside directory.reasons.CODES).
CODES: dict[str, str] = {
    "label.unrecognised": "The message carries a classification label that is not understood.",
    "decision.encrypt-required": "The policy requires the message to be S/MIME-encrypted to "
    "the recipient's certificate at this classification.",
    "decision.encrypt-for-transport": "The recipient's transport security is below what the "
    "classification requires; S/MIME encryption to the recipient's certificate makes it good.",
}


def decision_reason(code: str, classification: str, detail: str | None = None) -> dict[str, str]:
    base = CODES[code]
    message = f"{base[:-1]}: {detail}." if detail else base
    return {"code": code, "classification": classification, "message": message}


def decide(
    lookup: Lookup,
    label: MessageLabel,
    rules: LabelRules,
    recipients: Sequence[str],
    detail: DetailRule = no_detail,
) -> dict[str, Any]:
    level: Level = label.level or rules.unlabelled
    unrecognised = label.unrecognised if rules.block_unrecognised else ()
    answers = lookup.lookup_many(list(recipients), level.name, detail)
    decisions = []
    for answer in answers:
        if unrecognised:
            shown = ", ".join(f"{m.source}: {m.text}" for m in unrecognised)
            outcome = _outcome(answer, BLOCK, [decision_reason("label.unrecognised", "", shown)])
        else:
            outcome = _decide_one(answer, level)
        decisions.append(outcome)
    return {
        "classification": level.name,
        "labelled": label.level is not None,
        "markings": [
            {
                "source": m.source,
                "text": m.text,
                "classification": m.level.name if m.level else None,
            }
            for m in label.markings
        ],
        "encrypted": label.encrypted,
        "decisions": decisions,
        "policy": {"name": lookup.policy.name, "digest": lookup.policy.digest},
    }


def _decide_one(answer: dict[str, Any], level: Level) -> dict[str, Any]:
    handling = answer["handling"] or {}
    if answer["permitted"]:
        if handling.get("encryption") == "smime-required":
            return _outcome(
                answer, ENCRYPT, [decision_reason("decision.encrypt-required", level.name)]
            )
        return _outcome(answer, ALLOW, [])
    refusals = [r for r in answer["reasons"] if r["classification"] == level.name]
    codes = {r["code"] for r in refusals}
    if answer["known"] and answer["certificates"] and codes and codes <= TRANSPORT_CODES:
        why = decision_reason("decision.encrypt-for-transport", level.name)
        return _outcome(answer, ENCRYPT, [why, *refusals])
    if not refusals:  # never block without saying why
        refusals = list(answer["reasons"])[:1] or [
            {
                "code": "recipient.not-verified",
                "classification": level.name,
                "message": "The address is not a verified recipient in this directory.",
            }
        ]
    return _outcome(answer, BLOCK, refusals)


def _outcome(
    answer: dict[str, Any], decision: str, reasons: list[dict[str, str]]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "recipient": answer["address"],
        "decision": decision,
        "known": answer["known"],
        "trust_level": answer["trust_level"],
        "max_classification": answer["max_classification"],
        "handling": answer["handling"],
        "reasons": reasons,
        "valid_until": answer["valid_until"],
    }
    if decision == ENCRYPT:
        out["certificates"] = answer["certificates"]
    return out
