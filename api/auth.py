"""Bearer API keys on every HTTP call."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from starlette.requests import HTTPConnection

from directory.authz import Principal
from directory.service import Directory

_bearer = HTTPBearer(auto_error=False, description="a Clearance API key")


def directory_of(request: Request) -> Directory:
    directory: Directory = request.app.state.directory
    return directory


async def principal(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> Principal:
    """FastAPI dependency: the caller, or 401 problem+json.

    Checked on every call against the process's register snapshot (a dict look-up of the key's
    SHA-256), so a revoked key stops working within cache_refresh_seconds. `async` on purpose:
    it never waits on I/O for long (at most the snapshot's once-a-second change check), and a
    plain `def` would cost a thread-pool hop on every request."""
    token = credentials.credentials if credentials is not None else None
    return directory_of(request).authenticate(token)


def bearer_token(request: HTTPConnection) -> str | None:
    """The API key of `Authorization: Bearer <key>`, exactly as `_bearer` reads it, for the
    lookup route that authenticates without the dependency machinery (see api/routes/lookup)."""
    authorization = request.headers.get("Authorization")
    scheme, credentials = get_authorization_scheme_param(authorization)
    if not (authorization and scheme and credentials) or scheme.lower() != "bearer":
        return None
    return credentials


def caller_of(request: HTTPConnection) -> Principal:
    """The caller, or DirectoryError(unauthenticated): the same check as `principal`."""
    directory: Directory = request.app.state.directory
    return directory.authenticate(bearer_token(request))
