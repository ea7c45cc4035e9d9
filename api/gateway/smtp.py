"""The one place where lookup answers and errors become SMTP actions and map replies.

Policy actions (access(5) syntax, returned as `action=...`):
  verified (by the mode's rule)  PREPEND X-Clearance: max=...; trust=...; policy=...
  refused (enforce modes)         550 5.7.1 Clearance: ... (<reason code>)
  bad recipient (enforce modes)   550 5.1.3 Clearance: ...
  directory cannot answer         451 4.3.0 Clearance: ... try again later
Fail closed: an error is never an acceptance, in any mode.

Socketmap replies: `OK <value>`, `NOTFOUND `, `TEMP <reason>` (directory cannot answer now),
`PERM <reason>` (a request we do not understand).
"""

from __future__ import annotations

import re
from typing import Any

from api.gateway.rules import GatewayRules, Mode
from directory.classification import Level
from directory.errors import DirectoryError, ErrorKind

DUNNO = "DUNNO"
UNAVAILABLE = "451 4.3.0 Clearance: the directory cannot answer now, try again later"
_UNSAFE = re.compile(r"[^\x20-\x7e]")
_MAX_TEXT = 300


def _safe(text: str) -> str:
    return _UNSAFE.sub("?", text)[:_MAX_TEXT]


def header_value(answer: dict[str, Any]) -> str:
    return _safe(
        f"max={answer['max_classification'] or 'none'}; trust={answer['trust_level']}; "
        f"policy={answer['policy']['name']}"
    )


# Every directory error kind, exhaustively (tests/api/test_error_tables.py checks it): the policy
# service's reply and the socketmap's. Only a malformed address is the sender's fault (5xx,
# NOTFOUND); anything else is ours or the store's: defer (4xx, TEMP), never bounce.
BAD_ADDRESS = "550 5.1.3"
POLICY_REPLY: dict[ErrorKind, str] = {
    ErrorKind.MALFORMED: BAD_ADDRESS,
    ErrorKind.NOT_FOUND: UNAVAILABLE,
    ErrorKind.CONFLICT: UNAVAILABLE,
    ErrorKind.UNAUTHENTICATED: UNAVAILABLE,
    ErrorKind.FORBIDDEN: UNAVAILABLE,
    ErrorKind.CONFIG: UNAVAILABLE,
    ErrorKind.UNAVAILABLE: UNAVAILABLE,
    ErrorKind.INTERNAL: UNAVAILABLE,
}
NOT_FOUND = "NOTFOUND "
TEMP = "TEMP the directory cannot answer now"
MAP_REPLY: dict[ErrorKind, str] = {
    ErrorKind.MALFORMED: NOT_FOUND,  # a key that is not an address is simply not in the map
    ErrorKind.NOT_FOUND: TEMP,
    ErrorKind.CONFLICT: TEMP,
    ErrorKind.UNAUTHENTICATED: TEMP,
    ErrorKind.FORBIDDEN: TEMP,
    ErrorKind.CONFIG: TEMP,
    ErrorKind.UNAVAILABLE: TEMP,
    ErrorKind.INTERNAL: TEMP,
}


def _kind(exc: BaseException) -> ErrorKind:
    return exc.kind if isinstance(exc, DirectoryError) else ErrorKind.INTERNAL


def policy_action(
    result: dict[str, Any] | BaseException, mode: Mode, minimum: Level, rules: GatewayRules
) -> str:
    """The access(5) action for one recipient at RCPT time."""
    if isinstance(result, BaseException):
        reply = POLICY_REPLY[_kind(result)]
        if reply != BAD_ADDRESS:
            return reply
        if mode is Mode.TAG:
            return DUNNO
        assert isinstance(result, DirectoryError)
        return f"{BAD_ADDRESS} Clearance: {_safe(result.detail)}"
    tag = f"PREPEND {rules.header}: {header_value(result)}"
    if mode is Mode.TAG:
        return tag
    best = result["max_classification"]
    if mode is Mode.ENFORCE_KNOWN:
        if best is not None:
            return tag
        code = _first_code(result, None)
        return f"550 5.7.1 Clearance: recipient is not verified ({code})"
    if best is not None and rules.scheme.level(best).rank >= minimum.rank:
        return tag
    code = _first_code(result, minimum.name)
    have = best or "nothing"
    return _safe(
        f"550 5.7.1 Clearance: recipient may receive {have}, "
        f"not the minimum {minimum.name} ({code})"
    )


def _first_code(answer: dict[str, Any], classification: str | None) -> str:
    reasons = answer["reasons"]
    for r in reasons:
        if classification is None or r["classification"] == classification:
            return _safe(r["code"])
    return _safe(reasons[0]["code"]) if reasons else "recipient.not-verified"


def unsupported_action(what: str) -> str:
    return _safe(f"451 4.3.5 Clearance: unsupported policy request {what}")


def map_found(value: str) -> str:
    return f"OK {value}"


def map_error(exc: BaseException) -> str:
    """TEMP for anything that is not the caller's fault: Postfix then defers, never guesses."""
    return MAP_REPLY[_kind(exc)]


def recipient_map_reply(result: dict[str, Any] | BaseException, rules: GatewayRules) -> str:
    """The `recipient` map: found only for a verified recipient (some classification permitted)."""
    if isinstance(result, BaseException):
        return map_error(result)
    if result["max_classification"] is not None:
        return map_found(rules.recipient_found)
    return NOT_FOUND


def map_unknown(name: str) -> str:
    return _safe(f"PERM no map named {name}")


def map_refused(problem: BaseException) -> str:
    """A request that is not a socketmap request at all (the client's fault): PERM, and the
    connection is closed."""
    return _safe(f"PERM {problem}")
