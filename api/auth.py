"""Bearer API keys on every HTTP call."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from directory.authz import Principal
from directory.service import Directory

_bearer = HTTPBearer(auto_error=False, description="a Clearance API key")


def directory_of(request: Request) -> Directory:
    return request.app.state.directory


def principal(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> Principal:
    """FastAPI dependency: the caller, or 401 problem+json."""
    token = credentials.credentials if credentials is not None else None
    return directory_of(request).authenticate(token)
