"""The FastAPI application. `create_app()` builds settings and the directory; nothing at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api import boundary, logs, problems
from api.batcher import LookupBatcher
from api.routes import admin, domains_dns, health, lookup
from api.routes import decisions as decision_routes
from api.routes import federation as federation_routes
from api.routes import pki as pki_routes
from api.runtime import tuned_gc
from directory.federation.importer import MAX_LIST_BYTES
from directory.service import Directory
from directory.settings import Settings, load_settings


def create_app(settings: Settings | None = None, directory: Directory | None = None) -> FastAPI:
    directory = directory or Directory(settings or load_settings(), serving=True)
    logs.configure(directory.settings.log_level)
    directory.check_schema()

    lookups = LookupBatcher(directory.lookup)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        with tuned_gc():  # api/runtime.py: full collections do not stall requests
            yield
        lookups.close()
        directory.close()

    app = FastAPI(
        docs_url=None,
        redoc_url=None,
        title="Clearance",
        version="0.1.0",
        summary="May this address receive information at this classification, and if not, why?",
        lifespan=lifespan,
    )
    app.state.directory = directory
    app.state.lookups = lookups
    problems.install(app)
    app.add_middleware(
        boundary.Boundary,
        access_log=directory.settings.access_log,
        body_limits=body_limits(directory.settings.batch_limit),
    )
    app.include_router(lookup.router)
    app.include_router(admin.router)
    app.include_router(domains_dns.router)
    app.include_router(decision_routes.router)
    app.include_router(pki_routes.admin)
    app.include_router(pki_routes.public)
    app.include_router(federation_routes.router)
    app.include_router(health.router)
    offline_docs(app)  # last: a lookup never tries these routes first
    return app


def body_limits(batch_limit: int) -> boundary.BodyLimits:
    """What each route may be sent, enforced while the body is read (before any parsing or
    authentication): a batch's size for batches, a trust list's for imports, little elsewhere."""
    batch = batch_limit * 600 + 4096  # an address is at most 254 octets; JSON quoting
    return boundary.BodyLimits(
        64 * 1024,
        (
            ("/v1/lookups", batch),
            ("/v1/decisions", batch + 64 * 1024),  # and the message's label headers
            ("/v1/federation/peers/", MAX_LIST_BYTES),  # .../import: checked again by the route
            ("/pki/ocsp", 16 * 1024),
            ("/v1/admin/", 1024 * 1024),
        ),
    )


def offline_docs(app: FastAPI) -> None:
    """/docs and /redoc with Swagger UI and ReDoc from fastapi-offline's copies in the package
    (under /static-offline-docs), never a CDN: directories run on hosts without internet."""
    static = Path(fastapi_offline.__file__).parent / "static"
    app.mount("/static-offline-docs", StaticFiles(directory=static), name="static-offline-docs")
    title = app.title

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{title} - Swagger UI",
            oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_js_url="/static-offline-docs/swagger-ui-bundle.js",
            swagger_css_url="/static-offline-docs/swagger-ui.css",
            swagger_favicon_url="/static-offline-docs/favicon.png",
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title=f"{title} - ReDoc",
            redoc_js_url="/static-offline-docs/redoc.standalone.js",
            redoc_favicon_url="/static-offline-docs/favicon.png",
            with_google_fonts=False,
        )
