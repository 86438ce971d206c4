"""FastAPI application factory: routes are thin; all semantics come from the engine."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..library import builtins

__all__ = ["create_app", "FRONTEND"]

FRONTEND = Path(__file__).resolve().parents[3] / "frontend"


def create_app() -> FastAPI:
    app = FastAPI(title="pinrace", version=__version__,
                  description="Check and step page-pin races under sc, x86-TSO and the LKMM.")

    @app.get("/api/health")
    def health() -> dict:
        return {"status": "ok", "version": __version__}

    @app.get("/api/protocols")
    def protocols() -> list[dict]:
        return [{"name": b.name, "description": b.description} for b in builtins()]

    if FRONTEND.is_dir():
        app.mount("/", StaticFiles(directory=FRONTEND, html=True), name="frontend")
    return app
