"""An unknown record id tells a caller nothing it may not know: callers who could not act on
such a record are refused (403) before the directory says it does not exist (404)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from directory.authz import Principal
from directory.errors import DirectoryError, ErrorKind
from directory.service import Directory
from tests.conftest import ADMIN

ORG_ADMIN = Principal("test:org-admin", frozenset({f"org-admin:{uuid.uuid4()}"}))
LOOKUP = Principal("test:lookup", frozenset({"lookup"}))


def calls(d: Directory) -> list[Callable[[Principal, str], Any]]:
    reg = d.registration
    return [
        lambda p, i: reg.record_domain_verification(p, i, "evidence"),
        lambda p, i: reg.record_posture(p, i, evidence="evidence"),
        lambda p, i: reg.remove_domain(p, i),
        lambda p, i: reg.update_recipient(p, i, role="shared"),
        lambda p, i: reg.remove_recipient(p, i),
        lambda p, i: reg.end_accreditation(p, i),
        lambda p, i: reg.end_sponsorship(p, i),
    ]


@pytest.mark.parametrize("index", range(7))
def test_unknown_ids_are_refused_before_not_found(directory: Directory, index: int) -> None:
    call = calls(directory)[index]
    unknown = str(uuid.uuid4())
    for caller in (ORG_ADMIN, LOOKUP):
        with pytest.raises(DirectoryError) as refused:
            call(caller, unknown)
        assert refused.value.kind is ErrorKind.FORBIDDEN
    with pytest.raises(DirectoryError) as missing:
        call(ADMIN, unknown)
    assert missing.value.kind is ErrorKind.NOT_FOUND
