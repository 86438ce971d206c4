"""The OpenAPI pages, offline: /docs (Swagger UI) and /redoc (ReDoc) from files pinrace ships.

FastAPI's own pages load both from a CDN and start Swagger UI with an inline script, so
they are blank without the network and need a CSP exception.  These pages load the
vendored copies in docs_ui/ (versions, hashes and licences in docs_ui/VENDORED.txt,
refreshed by scripts/vendor_apidocs.sh) and start Swagger UI from a file, so they run
under script-src 'self'.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from ..assets import apidocs_dir

__all__ = ["install", "ASSETS_PATH"]

ASSETS_PATH = "/docs-ui"  # the pages link here relatively ("docs-ui/..."): keep the two in step


def install(app: FastAPI) -> None:
    """Add /docs, /redoc and the assets they load (AssetMissing when the install lacks them)."""
    d = apidocs_dir()
    # read once: the pages are small and fixed, and a missing one should fail at start, not per request
    pages = {name: (d / f"{name}.html").read_text(encoding="utf-8") for name in ("docs", "redoc")}

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(pages["docs"])

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return HTMLResponse(pages["redoc"])

    app.mount(ASSETS_PATH, StaticFiles(directory=d), name="docs-ui")
