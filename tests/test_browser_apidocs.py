"""/docs and /redoc in Debian's Chromium with every request off this server refused.

The pages must show the API's endpoints from the files pinrace ships, under the app's CSP,
with no console error (a CSP refusal is one) and no request leaving the machine.  The app,
the browser and the skip when Chromium is missing are test_browser.py's.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from test_browser import base_url, browser  # noqa: F401  (fixtures: the real app under uvicorn, Chromium)


@pytest.fixture
def offline(browser: Browser, base_url: str) -> Iterator[tuple[Page, list[str], list[str]]]:  # noqa: F811
    """A page that may reach only the app: (page, console errors, refused outside requests)."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=base_url)
    outside: list[str] = []

    def only_the_app(route: Route) -> None:
        if route.request.url.startswith(base_url + "/"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    ctx.route("**/*", only_the_app)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page, errors, outside
    ctx.close()


def _operations(base_url: str) -> list[tuple[str, str, str]]:  # noqa: F811
    """(method, path, summary) of every documented operation."""
    with urllib.request.urlopen(base_url + "/openapi.json", timeout=10) as r:
        spec = json.load(r)
    return [(m.upper(), path, op.get("summary", "")) for path, ops in spec["paths"].items() for m, op in ops.items()]


def test_swagger_ui_lists_every_endpoint_offline(offline, base_url):  # noqa: F811
    page, errors, outside = offline
    page.goto("/docs")
    ops = _operations(base_url)
    assert len(ops) >= 7
    blocks = page.locator(".opblock")
    expect(blocks).to_have_count(len(ops))
    for _method, path, _ in ops:
        expect(page.locator(f'.opblock-summary-path[data-path="{path}"]').first).to_be_visible()
    # the schema's own words reach the page: the description of the API
    expect(page.locator(".information-container")).to_contain_text("page-pin races")
    assert not errors, errors
    assert not outside, outside


def test_redoc_lists_every_endpoint_offline(offline, base_url):  # noqa: F811
    page, errors, outside = offline
    page.goto("/redoc")
    ops = _operations(base_url)
    menu = page.get_by_role("menu").first
    for _method, path, summary in ops:
        expect(menu.get_by_text(summary or path, exact=True).first).to_be_attached()  # the side menu
        expect(page.get_by_text(path, exact=True).first).to_be_attached()  # the operation's URL panel
    expect(page.locator("h1").first).to_contain_text("pinrace")
    assert not errors, errors
    assert not outside, outside
