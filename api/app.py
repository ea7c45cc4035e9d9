"""The FastAPI application. `create_app()` builds settings and the directory; nothing at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api import logs, problems
from api.batcher import LookupBatcher
from api.routes import admin, domains_dns, lookup
from api.routes import decisions as decision_routes
from api.routes import federation as federation_routes
from api.routes import pki as pki_routes
from api.runtime import tuned_gc
from directory.service import Directory
from directory.settings import Settings, load_settings


def create_app(settings: Settings | None = None, directory: Directory | None = None) -> FastAPI:
    directory = directory or Directory(settings or load_settings(), serving=True)
    logs.configure(directory.settings.log_level)
    directory.check_schema()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        with tuned_gc():  # api/runtime.py: full collections do not stall requests
            yield
        directory.close()

    # /docs and /redoc load Swagger UI and ReDoc from this package (fastapi-offline's copies,
    # under /static-offline-docs), never a CDN: directories run on hosts without internet
    app = FastAPIOffline(
        title="Clearance",
        version="0.1.0",
        summary="May this address receive information at this classification, and if not, why?",
        lifespan=lifespan,
    )
    app.state.directory = directory
    app.state.lookups = LookupBatcher(directory.lookup)
    problems.install(app)
    app.add_middleware(logs.RequestIds, access_log=directory.settings.access_log)
    app.include_router(lookup.router)
    app.include_router(admin.router)
    app.include_router(domains_dns.router)
    app.include_router(decision_routes.router)
    app.include_router(pki_routes.admin)
    app.include_router(pki_routes.public)
    app.include_router(federation_routes.router)
    return app
