"""Where the files pinrace ships live: the protocol library and the browser app.

The repository keeps `protocols/` and `frontend/` at its top level; the wheel carries them
as package data, `pinrace/protocols/` and `pinrace/frontend/` (pyproject.toml maps them in
at build time).  This module is the one place that knows both layouts:

* installed from a wheel: the package's own folders, found with importlib.resources;
* a checkout, or an editable install of one: the repository's folders beside `server/`,
  so an edit to a protocol or to the app shows at once, without reinstalling.

A folder found in neither place is an AssetMissing error that says where it looked: a
broken install must fail loudly, never list no protocols or serve no app.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from .errors import EngineFault

__all__ = ["AssetMissing", "protocols_dir", "frontend_dir", "apidocs_dir", "checkout_root"]

# a checkout is recognised by these beside server/ (the wheel has neither)
_CHECKOUT_MARKERS = ("pyproject.toml", "server/pinrace/__init__.py")


class AssetMissing(EngineFault):
    """A folder pinrace ships is not where the install put it: the install is broken.

    An EngineFault, so the API answers 500 (not the client's fault) and the CLI exits 2."""

    code = "missing-asset"


def checkout_root() -> Path | None:
    """The repository this package runs from (a checkout or an editable install), else None."""
    root = Path(__file__).resolve().parents[2]
    return root if all((root / m).is_file() for m in _CHECKOUT_MARKERS) else None


def _candidates(name: str) -> list[Path]:
    out = []
    packaged = files("pinrace") / name
    if isinstance(packaged, Path):  # a zipped install has no real folder to serve from
        out.append(packaged)
    root = checkout_root()
    if root is not None:
        out.append(root / name)
    return out


def _locate(name: str, marker: str, what: str) -> Path:
    """The first candidate folder `name` holding `marker`: the sign the folder is whole."""
    tried = _candidates(name)
    for d in tried:
        if (d / marker).is_file():
            return d
    where = ", ".join(str(d) for d in tried) or "nowhere (pinrace is not installed from folders)"
    raise AssetMissing(f"{what} is missing: no {name}/{marker} in {where}. The install is incomplete: "
                       f"reinstall pinrace from its wheel, or run it from a checkout")


def protocols_dir() -> Path:
    """The shipped protocol library: the built-in *.litmus, prelude.h and versions/."""
    return _locate("protocols", "prelude.h", "the built-in protocol library")


def frontend_dir() -> Path:
    """The browser app (index.html and its ES modules), served at /."""
    return _locate("frontend", "index.html", "the browser app")


def apidocs_dir() -> Path:
    """Swagger UI and ReDoc, vendored with their licences, for /docs and /redoc."""
    d = files("pinrace") / "api" / "docs_ui"
    if isinstance(d, Path) and (d / "swagger-ui" / "swagger-ui-bundle.js").is_file():
        return d
    raise AssetMissing(f"the API docs assets are missing: no swagger-ui-bundle.js in {d}. "
                       f"The install is incomplete: reinstall pinrace")
