"""Every operation of the HTTP API, fuzzed from its own OpenAPI schema (schemathesis): valid and
malformed paths, queries and bodies, as a directory admin and anonymously. Whatever comes in,
the answer is never a 500 (a fault of ours is a 503 problem), and every error is a problem+json
document. The admin and PKI routes are where input is richest; lookups, decisions and
federation are included too.

Each operation runs on the demo register with the demo CA and a federation signing key, as
`clearance demo` sets a directory up (so a 500 is a fault in the code, not a missing piece of
configuration, which is a 500 by design: api/problems.py), at a fixed seed: the same cases on
every run, so a failure reproduces."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from api.app import create_app
from directory import demo
from directory.federation import keys
from directory.service import Directory
from tests.api.helpers import new_key
from tests.conftest import FrozenClock, make_directory

PROBLEM = "application/problem+json"
EXAMPLES = 25  # per operation and mode: about 20 s for the whole API on a quiet machine


@pytest.fixture
def fuzzed(tmp_path: Path, clock: FrozenClock) -> Iterator[tuple[Any, str]]:
    """The API's schema, loaded from the app itself over the demo register, and an admin key."""
    directory: Directory = make_directory(tmp_path, clock)
    demo.seed(directory)
    demo.demo_certificate(directory)
    keys.ensure_signing_key(directory.settings)  # as `clearance init`: a directory set up whole
    key = new_key(directory, "directory-admin", "lookup")
    yield schemathesis.openapi.from_asgi("/openapi.json", create_app(directory=directory)), key
    directory.close()


def test_no_input_is_a_500_and_every_error_is_a_problem(fuzzed: tuple[Any, str]) -> None:
    schema, key = fuzzed
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30  # the whole API: admin, PKI, lookups, decisions, federation
    seen: dict[int, int] = {}

    def check(case: Any) -> None:
        for headers in ({"Authorization": f"Bearer {key}"}, {}):
            response = case.call(headers=headers)
            seen[response.status_code] = seen.get(response.status_code, 0) + 1
            status = response.status_code
            where = f"{case.method} {case.formatted_path}: {status} {response.content[:300]!r}"
            assert response.status_code != 500 and response.status_code < 600, where
            if response.status_code >= 400:
                assert response.headers["content-type"][0].startswith(PROBLEM), where

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run = given(case=operation.as_strategy(generation_mode=mode))(check)
            try:
                settings(
                    max_examples=EXAMPLES,
                    deadline=None,
                    derandomize=True,
                    database=None,
                    suppress_health_check=list(HealthCheck),
                )(run)()
            except Unsatisfiable:  # nothing to make malformed (a GET without parameters)
                assert mode is GenerationMode.NEGATIVE, operation.label
    # the run reached past authentication and validation, not only refusals
    assert seen.get(200, 0) + seen.get(201, 0) > 50 and seen.get(401, 0) > 0
    assert seen.get(400, 0) + seen.get(422, 0) > 50 and seen.get(404, 0) > 0
