"""The lookup answer's shape, from DESIGN.md ("The lookup"), key for key."""

from __future__ import annotations

ANSWER_KEYS = frozenset(
    {
        "address",
        "known",
        "matched",
        "trust_level",
        "max_classification",
        "classification",
        "permitted",
        "organisation",
        "handling",
        "certificates",
        "reasons",
        "checked_at",
        "valid_until",
        "policy",
    }
)
