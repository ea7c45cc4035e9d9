"""An Answer (directory/decision.py) as the JSON object the API, the CLI and the gateway give:
the answer's documented shape (docs/api.md), in its key order, with PEM certificates and time
stamps in UTC with a Z."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from directory.answer import Answer, Verdict
from directory.store.fastpath import LiveCertificate


def answer_json(answer: Answer) -> dict[str, Any]:
    out = verdict_json(answer.verdict)
    out["address"] = answer.address
    organisation = out["organisation"]
    if answer.recipient_name is not None and organisation is not None:
        out["organisation"] = {**organisation, "recipient_name": answer.recipient_name}
    out["certificates"] = [certificate_json(c) for c in answer.certificates]
    out["checked_at"] = stamp(answer.checked_at)
    out["valid_until"] = stamp(answer.valid_until)
    out["policy"] = {"name": answer.policy_name, "digest": answer.policy_digest}
    return out


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    """The answer's keys, in order, with what the verdict says filled in (the address,
    certificates, time stamps and policy are None: the answer's own)."""
    org = verdict.organisation
    organisation: dict[str, str] | None = None
    if org is not None:
        organisation = {"id": org.id, "name": org.name, "sector": org.sector.value}
        if org.directory is not None:
            organisation["directory"] = org.directory
    handling = verdict.handling
    top, asked = verdict.max_classification, verdict.classification
    return {
        "address": None,
        "known": verdict.known,
        "matched": verdict.matched.value if verdict.matched is not None else None,
        "trust_level": verdict.trust_level.label,
        "max_classification": top.name if top is not None else None,
        "classification": asked.name if asked is not None else None,
        "permitted": verdict.permitted,
        "organisation": organisation,
        "handling": (
            {"transport": handling.transport.value, "encryption": handling.encryption.value}
            if handling is not None
            else None
        ),
        "certificates": None,
        "reasons": [r.as_dict() for r in verdict.reasons],
        "checked_at": None,
        "valid_until": None,
        "policy": None,
    }


def certificate_json(cert: LiveCertificate) -> dict[str, str]:
    return {"serial": cert.serial, "not_after": stamp(cert.not_after), "pem": pem(cert.der)}


def pem(der: bytes) -> str:
    body = base64.encodebytes(der).decode("ascii").replace("\n", "")
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN CERTIFICATE-----\n{lines}\n-----END CERTIFICATE-----\n"


def stamp(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")
