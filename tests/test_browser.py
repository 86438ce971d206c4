"""End-to-end tests of the browser app in Debian's real Chromium (Python Playwright).

The real app runs under uvicorn in a subprocess; every value is read from the page as text
(labelled <dd>, banner, refusal), never from a canvas, so these tests also check that what
the page shows is readable.  Skipped only when /usr/bin/chromium is missing (CI installs it).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    if os.environ.get("CI") == "true":  # .ci/run installs it: under CI a missing browser is a failure
        raise RuntimeError("CI=true and Debian's chromium is not at /usr/bin/chromium")
    pytest.skip("Debian's chromium is not installed at /usr/bin/chromium", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
RACE = "thread-false-negative"
BANNER = "writeback believes the page is unpinned"
# the thread's diagram as a schedule: CPU1 unpins, CPU0 reads _refcount then _mapcount, CPU2 pins
RACE_STEPS = ("CPU1", "CPU0", "CPU0", "CPU2")

expect.set_options(timeout=15_000)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """The real app (REST, websocket, frontend) under uvicorn on a free port."""
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "server") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "pinrace.api.app:create_app", "--factory",
                             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                            cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/api/health", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("the app did not start")
            time.sleep(0.1)  # polling the server's start, not timing a test
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def _watched(ctx) -> Iterator[Page]:
    """A page of `ctx` for one test; any JavaScript error it raised fails the test after it."""
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    ctx.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 720}, base_url=base_url)
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    yield from _watched(ctx)


# ---- helpers ------------------------------------------------------------------------------
def value(page: Page, key: str) -> str:
    """The text of a labelled value (<dd data-value=KEY>), without its '(changed)' mark."""
    return page.locator(f'[data-value="{key}"]').first.inner_text().replace("(changed)", "").strip()


def load(page: Page, name: str) -> None:
    page.goto("/")
    page.get_by_role("button", name=f"Load {name}", exact=True).click()
    # (on a phone the picker folds away once a scenario is loaded)
    expect(page.locator("#banner .scenario-line")).to_contain_text(name)
    expect(page.locator("#timeline")).to_contain_text("No steps yet")


def step(page: Page, *cpus: str) -> None:
    for cpu in cpus:
        n = page.locator("tbody tr[data-row]").count()
        page.get_by_role("button", name=re.compile(rf"^Step {cpu}:")).first.click()
        expect(page.locator("tbody tr[data-row]")).to_have_count(n + 1)


def drag(page: Page, src_row: int, dst_row: int) -> None:
    """Drag the operation in timeline row `src_row` (0-based) onto row `dst_row`, by mouse."""
    # mouse events land only inside the viewport: bring the whole table into it first
    page.locator("table.timeline").evaluate("t => t.scrollIntoView({block: 'center'})")
    op = page.locator(f'tr[data-row="{src_row}"] button.op').bounding_box()
    dst = page.locator(f'tr[data-row="{dst_row}"]').bounding_box()
    assert op and dst
    page.mouse.move(op["x"] + op["width"] / 2, op["y"] + op["height"] / 2)
    page.mouse.down()
    page.mouse.move(dst["x"] + dst["width"] / 2, dst["y"] + dst["height"] / 2, steps=8)
    page.mouse.up()


def no_horizontal_scroll(page: Page) -> None:
    sw, iw = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert sw <= iw, f"horizontal scroll: scrollWidth {sw} > innerWidth {iw}"


def timeline_tokens(page: Page) -> list[str]:
    return page.locator("tbody tr[data-row] button.op").evaluate_all("els => els.map(e => e.dataset.token)")


# ---- acceptance -----------------------------------------------------------------------------
def test_three_clicks_from_opening_the_app_to_a_race(page: Page):
    """The README's path: open /, then exactly these three clicks, then read the banner."""
    page.goto("/")
    page.get_by_role("button", name=f"Load {RACE}", exact=True).click()                # 1
    page.get_by_role("button", name="Explore all interleavings (sc)").click()          # 2
    page.get_by_role("button", name="Load counterexample 1").click()                   # 3
    expect(page.locator("#banner")).to_contain_text(BANNER)
    expect(page.locator("#banner")).to_contain_text("CPU2 holds a pin")


def test_step_to_the_false_negative_and_read_banner_and_refcount(page: Page):
    load(page, RACE)
    assert value(page, "page-refcount") == "1026"
    step(page, "CPU1")
    assert value(page, "page-refcount") == "2"
    assert value(page, "page-split") == "0 pins × 1024 + 2 refs"
    expect(page.locator('[data-value="page-refcount"]')).to_have_class(re.compile("changed"))
    expect(page.locator("#explanation")).to_contain_text("CPU1 (line")
    step(page, "CPU0", "CPU0")
    expect(page.locator("#banner")).not_to_contain_text(BANNER)
    # the code view names the operation about to run and CPU0 has finished
    assert value(page, "cpu0-status") == "done"
    step(page, "CPU2")
    expect(page.locator("#banner")).to_contain_text(BANNER)
    assert value(page, "page-refcount") == "1026"
    assert value(page, "page-split") == "1 pin × 1024 + 2 refs"
    assert value(page, "0:r0") == "0"   # CPU0's page_pinned() said: not pinned
    assert page.get_by_text("r0 (r0 = page_pinned(page))").is_visible()
    assert value(page, "summary") == "final state: the bad outcome is reached"
    # undo, redo and jump move through the run
    page.get_by_role("button", name="Undo").click()
    expect(page.locator("#banner")).not_to_contain_text(BANNER)
    page.get_by_role("button", name="Redo").click()
    expect(page.locator("#banner")).to_contain_text(BANNER)
    page.get_by_role("button", name="Jump to after step 1").click()
    expect(page.locator('[data-value="position"]')).to_have_text("at step 1 of 4")


def test_drag_an_operation_to_a_new_row_changes_the_state(page: Page):
    load(page, RACE)
    step(page, *RACE_STEPS)
    expect(page.locator("#banner")).to_contain_text(BANNER)
    drag(page, 3, 0)  # CPU2's GUP before everything: CPU0's snapshot now sees the pin
    expect(page.locator("tbody tr[data-row='0'] button.op")).to_have_attribute("data-token", "2:0")
    assert timeline_tokens(page) == ["2:0", "1:0", "0:1", "0:2"]
    expect(page.locator('[data-value="0:r0"]')).to_contain_text("1")
    expect(page.locator("#banner")).not_to_contain_text(BANNER)
    assert value(page, "summary").startswith("final state: the bad outcome is not reached")


def test_an_illegal_drag_snaps_back_with_the_reason(page: Page):
    load(page, RACE)
    step(page, *RACE_STEPS)
    before = timeline_tokens(page)
    drag(page, 2, 1)  # CPU0's _mapcount read above its own _refcount read
    expect(page.locator("#refusal")).to_contain_text("Move refused")
    expect(page.locator("#refusal")).to_contain_text("program order")
    expect(page.locator("#refusal")).to_contain_text("rule: program-order")
    assert timeline_tokens(page) == before
    expect(page.locator("#banner")).to_contain_text(BANNER)


def test_keyboard_only_move(page: Page):
    load(page, RACE)
    step(page, *RACE_STEPS)
    op = page.locator("tr[data-row='3'] button.op")
    op.focus()
    page.keyboard.press("Enter")  # select
    expect(op).to_have_attribute("aria-pressed", "true")
    for _ in range(3):
        page.get_by_role("button", name="Move up").focus()
        page.keyboard.press("Enter")
        expect(page.locator("body")).to_have_attribute("data-ready", "yes")
    expect(page.locator("tbody tr[data-row='0'] button.op")).to_have_attribute("data-token", "2:0")
    expect(page.locator('[data-value="0:r0"]')).to_contain_text("1")
    # Alt+Down on a focused operation moves it back down a row
    page.locator("tr[data-row='0'] button.op").focus()
    page.keyboard.press("Alt+ArrowDown")
    expect(page.locator("tbody tr[data-row='1'] button.op")).to_have_attribute("data-token", "2:0")


def test_keyboard_only_stepping_to_a_final_state(page: Page):
    load(page, RACE)
    page.get_by_role("button", name=re.compile(r"^Step CPU")).first.focus()
    for n in range(1, 5):
        page.keyboard.press("Enter")  # focus stays on a step button after each step
        expect(page.locator('[data-value="position"]')).to_have_text(f"at step {n} of {n}")
    assert value(page, "summary").startswith("final state")


def test_barrier_as_posted_under_lkmm_explore_and_load_the_counterexample(page: Page):
    load(page, "bias-barrier-posted")
    page.get_by_role("radio", name=re.compile("^lkmm")).check()
    page.get_by_role("button", name="Explore all interleavings (lkmm)").click()
    expect(page.locator('[data-value="explore-verdict"]')).to_contain_text("Sometimes")
    expect(page.locator('[data-value="explore-verdict"]')).to_contain_text("reachable")
    expect(page.locator(".outcomes li")).to_have_count(4)
    page.get_by_role("button", name="Load counterexample 1").click()
    expect(page.locator("body")).to_have_attribute("data-ready", "yes")
    expect(page.locator("#banner")).to_contain_text("GUP saw no writeback and writeback saw no pin")
    # CPU0's read of PG_writeback ran ahead of its atomic_add(): marked, with the engine's reason
    marked = page.locator("tbody tr.reordered").first
    expect(marked).to_be_visible()
    expect(marked.locator(".op-rule")).to_contain_text("store→load")
    expect(marked.locator(".op-note")).to_contain_text("smp_wmb()` orders stores only")
    expect(page.get_by_role("region", name="What each CPU can still read")).to_be_visible()
    # the link carries the lkmm run with its choices, and opens the same marked run
    expect(page.locator('[data-value="link-carries"]')).to_contain_text("under lkmm, schedule 0:3:rf=init")
    tokens = timeline_tokens(page)
    other = page.context.new_page()
    other.goto(page.get_by_label("Link to this state").input_value())
    expect(other.locator("#banner")).to_contain_text("GUP saw no writeback and writeback saw no pin")
    assert timeline_tokens(other) == tokens
    expect(other.locator("tbody tr.reordered .op-rule").first).to_contain_text("store→load")


def test_lkmm_refusal_draws_the_cycle(page: Page):
    load(page, "bias-barrier-fixed")
    page.get_by_role("radio", name=re.compile("^lkmm")).check()
    expect(page.get_by_role("radio", name=re.compile("^lkmm"))).to_be_checked()
    page.get_by_role("button", name=re.compile(r"^Step CPU0: atomic_add")).click()
    page.get_by_role("button", name=re.compile(r"^Step CPU0: test_bit")).click()
    expect(page.locator("tbody tr[data-row]")).to_have_count(2)
    drag(page, 1, 0)  # the flag test above the pin: smp_mb__after_atomic() orders them
    refusal = page.locator("#refusal")
    expect(refusal).to_contain_text("Move refused")
    expect(refusal).to_contain_text("smp_mb__after_atomic()")
    expect(refusal).to_contain_text("axiom happens-before")
    expect(refusal.get_by_role("list", name="The cycle, edge by edge")).to_contain_text("—mb→")
    assert timeline_tokens(page)[0].startswith("0:0")


def test_under_tso_and_sc_the_barrier_scheme_holds(page: Page):
    load(page, "bias-barrier-posted")
    page.get_by_role("radio", name=re.compile("^tso")).check()
    expect(page.get_by_role("radio", name=re.compile("^tso"))).to_be_checked()
    page.get_by_role("button", name="Explore all interleavings (tso)").click()
    expect(page.locator('[data-value="explore-verdict"]')).to_contain_text("Never")
    expect(page.locator(".cex-list")).to_have_count(0)


def test_share_link_opens_the_identical_state(page: Page, browser: Browser, base_url: str):
    load(page, RACE)
    step(page, *RACE_STEPS)
    page.get_by_role("button", name="Jump to after step 3").click()
    expect(page.locator('[data-value="position"]')).to_have_text("at step 3 of 4")
    # the address bar follows the state: wait until the link carries this position's schedule
    expect(page.locator('[data-value="link-carries"]')).to_have_text(f"{RACE} under sc, schedule 1:0 0:1 0:2")
    expect(page).to_have_url(re.compile(r"#s=[A-Za-z0-9_-]+$"))
    token = page.url.split("#s=")[1]
    expect(page.get_by_label("Link to this state")).to_have_value(re.compile(r"#s=" + re.escape(token) + "$"))
    page.get_by_role("button", name="Copy link").click()
    expect(page.locator(".share-status")).to_have_text("link copied")
    link = page.evaluate("navigator.clipboard.readText()")
    assert link.startswith(base_url) and "#s=" in link
    other = page.context.new_page()
    other.goto(link)
    expect(other.locator('[data-value="position"]')).to_have_text("at step 3 of 3")
    for sel in ("#state", "#code", "#banner"):
        assert other.locator(sel).inner_text().replace("(changed)", "") == \
            page.locator(sel).inner_text().replace("(changed)", ""), sel
    assert timeline_tokens(other) == ["1:0", "0:1", "0:2"]
    # the email export carries the diagram and the block, and pasting the block reads it back
    other.get_by_role("button", name="Email export").click()
    email_box = other.get_by_label("Email text (diagram and scenario block)")
    expect(email_box).to_have_value(re.compile("BEGIN PINRACE SCENARIO"))
    email = email_box.input_value()
    assert "CPU0" in email and "| CPU1" in email
    third = page.context.new_page()
    third.goto("/")
    third.get_by_label("Paste a link, email block or diagram").fill(email.split("\n\n")[1])
    third.get_by_role("button", name="Import").click()
    expect(third.locator('[data-value="position"]')).to_have_text("at step 3 of 3")
    assert timeline_tokens(third) == ["1:0", "0:1", "0:2"]


def test_paste_a_thread_style_diagram(page: Page):
    load(page, RACE)
    diagram = ("CPU0               | CPU1       | CPU2\n"
               "                   | PUP(page)  |\n"
               "page_pinned(page)  |            |\n"
               "                   |            | GUP(page)\n")
    page.get_by_label("Paste a link, email block or diagram").fill(diagram)
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#banner")).to_contain_text(BANNER)


def test_source_errors_are_shown_at_their_line_and_column(page: Page):
    load(page, RACE)
    page.get_by_text("Edit or paste a protocol").click()
    bad = "C broken\n{\n}\nP0(int *x) {\n  WRITE_ONCE(*x 1);\n}\n"
    page.get_by_label("Protocol source (LKMM litmus format)").fill(bad)
    page.get_by_role("button", name="Load this source").click()
    expect(page.locator("#source-error")).to_contain_text("line 5")
    expect(page.locator("#source-error pre")).to_contain_text("WRITE_ONCE(*x 1);")


def test_phone_width_has_no_horizontal_scroll(browser: Browser, base_url: str):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, base_url=base_url, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    try:
        load(page, RACE)
        no_horizontal_scroll(page)
        step(page, *RACE_STEPS)
        page.get_by_role("button", name="Explore all interleavings (sc)").click()
        expect(page.get_by_role("button", name="Load counterexample 1")).to_be_visible()
        page.get_by_role("button", name="Email export").click()
        expect(page.get_by_label("Email text (diagram and scenario block)")).to_be_visible()
        expect(page.locator("#banner")).to_contain_text(BANNER)
        no_horizontal_scroll(page)
    finally:
        ctx.close()


def test_desktop_width_has_no_horizontal_scroll_and_every_control_is_named(page: Page):
    load(page, RACE)
    step(page, *RACE_STEPS)
    page.get_by_role("button", name="Explore all interleavings (sc)").click()
    expect(page.get_by_role("button", name="Load counterexample 1")).to_be_visible()
    no_horizontal_scroll(page)
    unnamed = page.evaluate("""() => [...document.querySelectorAll('button, input, textarea, select, summary')]
        .filter(el => {
          const labelled = el.getAttribute('aria-label')
            || (el.labels && el.labels.length && el.labels[0].textContent.trim());
          const text = el.textContent.trim();
          return !(labelled || (['BUTTON', 'SUMMARY'].includes(el.tagName) && text));
        }).map(el => el.outerHTML.slice(0, 80))""")
    assert unnamed == []


# ---- issue 16: the browser as a teaching instrument ------------------------------------------------
NO_MIDWORD = """(sel) => {
  // every identifier-like word of the visible text under `sel` lies on one line
  const bad = [];
  for (const root of document.querySelectorAll(sel)) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const re = /[A-Za-z_][A-Za-z0-9_]{3,}/g;
      for (let m = re.exec(n.data); m; m = re.exec(n.data)) {
        const r = document.createRange();
        r.setStart(n, m.index);
        r.setEnd(n, m.index + m[0].length);
        const tops = new Set([...r.getClientRects()].filter((x) => x.width > 0).map((x) => Math.round(x.top)));
        if (tops.size > 1) bad.push(m[0]);
      }
    }
  }
  return bad;
}"""


@pytest.fixture
def phone(browser: Browser, base_url: str) -> Iterator[Page]:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, base_url=base_url, is_mobile=True, has_touch=True)
    yield from _watched(ctx)


@pytest.fixture
def screen(browser: Browser, base_url: str) -> Iterator[Page]:
    """The README's screen: 1280×800."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=base_url)
    yield from _watched(ctx)


def ready(page: Page) -> None:
    expect(page.locator("body")).to_have_attribute("data-ready", "yes")


def focused(page: Page) -> str:
    return page.evaluate("(e => e.id || e.dataset.key || e.tagName)(document.activeElement)")


def load_source(page: Page, text: str) -> None:
    toggle = page.get_by_role("button", name="Edit or paste a protocol")
    if toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
    page.get_by_label("Protocol source (LKMM litmus format)").fill(text)
    page.get_by_role("button", name="Load this source").click()
    ready(page)


def test_three_clicks_and_the_banner_are_in_view_at_1280x800_without_scrolling(screen: Page):
    page = screen
    page.goto("/")
    first = page.get_by_role("button", name=f"Load {RACE}", exact=True)
    expect(first).to_be_in_viewport(ratio=1)
    first.click()
    ready(page)
    explore = page.get_by_role("button", name="Explore all interleavings (sc)")
    expect(explore).to_be_in_viewport(ratio=1)  # before Playwright's click could scroll to it
    explore.click()
    cex = page.get_by_role("button", name="Load counterexample 1")
    expect(cex).to_be_in_viewport(ratio=1)
    assert focused(page) == "explore-verdict"  # the result has the focus
    cex.click()
    expect(page.locator("#banner")).to_contain_text(BANNER)
    expect(page.locator("#banner")).to_be_in_viewport()
    assert focused(page) == "verdict"
    expect(page.locator("table.timeline")).to_be_in_viewport()


@pytest.mark.parametrize("width", [1200, 1280, 1600])
def test_all_built_ins_fit_the_list_from_1200_px(browser: Browser, base_url: str, width: int):
    ctx = browser.new_context(viewport={"width": width, "height": 800}, base_url=base_url)
    page = ctx.new_page()
    try:
        page.goto("/")
        buttons = page.locator(".protocol-list button.protocol")
        expect(buttons).to_have_count(25)
        for i in range(25):
            expect(buttons.nth(i)).to_be_in_viewport(ratio=1)
        # nothing hidden in a scrolled box either
        assert page.evaluate("(p => p.scrollHeight <= p.clientHeight)(document.getElementById('picker'))")
    finally:
        ctx.close()


def test_every_result_comes_into_view_on_a_phone(phone: Page):
    page = phone
    load(page, RACE)
    expect(page.locator("#verdict")).to_be_in_viewport()  # loading brings the banner
    page.get_by_role("button", name="Explore all interleavings (sc)").click()
    expect(page.get_by_role("button", name="Load counterexample 1")).to_be_in_viewport()
    assert focused(page) == "explore-verdict"
    page.get_by_role("button", name="Load counterexample 1").click()
    expect(page.locator("#banner")).to_contain_text(BANNER)
    expect(page.locator("#banner")).to_be_in_viewport()
    # a distinct outcome too
    page.get_by_role("button", name="Explore all interleavings (sc)").click()
    page.get_by_role("button", name=re.compile(r"^Load outcome 2")).click()
    expect(page.locator("#banner")).not_to_contain_text(BANNER)
    expect(page.locator("#banner")).to_be_in_viewport()
    # an import answers in words next to it, and shows what it loaded
    page.get_by_label("Paste a link, email block or diagram").fill(
        "CPU0               | CPU1       | CPU2\n"
        "                   | PUP(page)  |\n"
        "page_pinned(page)  |            |\n"
        "                   |            | GUP(page)\n")
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#banner")).to_contain_text(BANNER)
    expect(page.locator("#banner")).to_be_in_viewport()
    expect(page.locator(".share-status")).to_contain_text(f"imported: {RACE} under sc, 4 step(s)")
    # opening a link shows its banner
    expect(page.locator('[data-value="link-carries"]')).to_have_text(f"{RACE} under sc, schedule 1:0 0:1 0:2 2:0")
    link = page.get_by_label("Link to this state").input_value()
    other = page.context.new_page()
    other.goto(link)
    expect(other.locator("#banner")).to_contain_text(BANNER)
    expect(other.locator("#banner")).to_be_in_viewport()


def test_no_stale_state_across_models_and_scenarios(page: Page):
    load(page, RACE)
    page.get_by_role("button", name="Explore all interleavings (sc)").click()
    expect(page.locator('[data-value="explore-verdict"]')).to_contain_text("sc: Sometimes")
    page.get_by_role("radio", name=re.compile("^tso")).check()
    expect(page.get_by_role("button", name="Explore all interleavings (tso)")).to_be_visible()
    # the sc verdict is still there, but says it is sc's and the model is now tso
    expect(page.locator('[data-value="explore-stale"]')).to_contain_text(
        "These results are for sc; the model is now tso")
    expect(page.locator("#banner")).to_contain_text(f"{RACE} under tso")
    # a new scenario: the model stays tso, and nothing computed for the old one remains
    page.get_by_role("button", name="Load bias-barrier-posted", exact=True).click()
    expect(page.locator("#banner")).to_contain_text("bias-barrier-posted under tso")
    expect(page.get_by_role("radio", name=re.compile("^tso"))).to_be_checked()
    expect(page.locator('[data-value="explore-verdict"]')).to_have_count(0)
    expect(page.locator("#timeline")).to_contain_text("No steps yet")
    expect(page.locator("#status")).to_contain_text("model tso")


def test_the_page_track_down_the_timeline(page: Page):
    load(page, RACE)
    # before CPU0 ran, page_pinned()'s register is not 0 but unwritten
    assert value(page, "0:r0") == "— (not written yet)"
    assert value(page, "obs-0:r0") == "— (not written yet)"
    step(page, *RACE_STEPS)
    rows = page.locator("td.track")
    expect(rows).to_have_count(4)
    # each row: the page after that step, changes against the step before marked
    ref = [rows.nth(i).locator('[data-tk="page-refcount"]') for i in range(4)]
    expect(ref[0]).to_have_text(re.compile(r"_refcount 2 = 0 pins × 1024 \+ 2 refs\s*changed"))
    expect(ref[0]).to_have_class(re.compile("changed"))
    expect(ref[1]).not_to_have_class(re.compile("changed"))
    expect(ref[3]).to_have_text(re.compile(r"_refcount 1026 = 1 pin × 1024 \+ 2 refs\s*changed"))
    expect(rows.nth(0).locator('[data-tk="page-PG_writeback"]')).to_have_text("PG_writeback off")
    expect(rows.nth(0).locator('[data-tk="page-PG_locked"]')).to_have_text("PG_locked off")
    # the step that finished page_pinned() says what it returned
    expect(rows.nth(2)).to_contain_text("page_pinned(page) returned 0")
    expect(rows.nth(1)).not_to_contain_text("returned")
    assert value(page, "0:r0") == "0"
    # "changed" is against the previous step, not the last view: jump from 4 back to 2
    page.get_by_role("button", name="Jump to after step 2").click()
    expect(page.locator('[data-value="position"]')).to_have_text("at step 2 of 4")
    expect(page.locator('[data-value="page-refcount"]')).not_to_have_class(re.compile("changed"))
    page.get_by_role("button", name="Jump to after step 1").click()
    expect(page.locator('[data-value="page-refcount"]')).to_have_class(re.compile("changed"))


def test_the_page_track_on_a_phone_keeps_what_changed(phone: Page):
    page = phone
    load(page, RACE)
    step(page, *RACE_STEPS)
    rows = page.locator("td.track")
    expect(rows.nth(0).locator('[data-tk="page-refcount"]')).to_be_visible()  # changed
    expect(rows.nth(0).locator('[data-tk="page-PG_locked"]')).to_be_hidden()  # did not
    expect(rows.nth(1).locator('[data-tk="page-refcount"]')).to_be_hidden()
    expect(rows.nth(1)).to_contain_text("page unchanged")
    expect(rows.nth(2)).to_contain_text("page_pinned(page) returned 0")
    expect(rows.nth(3)).to_contain_text("1026 = 1 pin × 1024 + 2 refs")


def test_the_lkmm_execution_graph_follows_every_step(page: Page, base_url: str):
    external: list[str] = []  # no CDN, no web font: the graph is drawn by our own code
    page.on("request", lambda r: None if r.url.startswith((base_url, "data:")) else external.append(r.url))
    load(page, "bias-barrier-posted")
    page.get_by_role("radio", name=re.compile("^lkmm")).check()
    ready(page)
    graph = page.get_by_role("img", name=re.compile(r"^Execution graph"))
    expect(graph).to_be_visible()
    expect(graph).to_have_accessible_name(re.compile(r"^Execution graph: 0 events run, 0 edges"))
    # GUP's read of PG_writeback ahead of its atomic_add(): the store→load reordering
    page.get_by_role("button", name=re.compile(r"^Step CPU0: test_bit")).click()
    expect(graph).to_have_accessible_name(re.compile(r"^Execution graph: 1 event run, 1 edge \(rf\)"))
    for n in range(3):
        page.get_by_role("button", name=re.compile(r"^Step CPU1")).first.click()
        expect(page.locator("tbody tr[data-row]")).to_have_count(2 + n)
    page.get_by_role("button", name=re.compile(r"^Step CPU0")).first.click()
    expect(graph).to_have_accessible_name(
        re.compile(r"^Execution graph: 5 events run, 14 edges \(.*\bpo\b.*\brf\b.*\)"))
    edges = page.locator(".edge-list li")
    text = " | ".join(edges.all_text_contents())  # (the list sits in a closed <details>)
    for rel in ("—po→", "—rf→", "—co→", "—fr→", "—mb→"):
        assert rel in text, (rel, text)
    # the text alternative is the svg's description
    desc = graph.get_attribute("aria-describedby")
    assert page.locator(f"#{desc}").count() == 1
    # the SB cycle the LKMM allows: each side reads from before the other's store
    assert "CPU0 line 37 R page.flags=0 —fr→ CPU1 line 45 RMW page.flags: 0→2" in text
    assert not external, f"requests outside the app: {external}"


def test_a_refused_lkmm_step_draws_its_cycle_with_the_axiom(page: Page):
    load(page, "bias-barrier-fixed")
    page.get_by_role("radio", name=re.compile("^lkmm")).check()
    ready(page)
    page.get_by_role("button", name=re.compile(r"^Step CPU0: atomic_add")).click()
    page.get_by_role("button", name=re.compile(r"^Step CPU0: test_bit")).click()
    expect(page.locator("tbody tr[data-row]")).to_have_count(2)
    page.locator("tr[data-row='1'] button.op").click()
    page.get_by_role("button", name="Move up").click()
    expect(page.locator("#refusal")).to_contain_text("Move refused")
    graph = page.get_by_role("img", name=re.compile(r"^Execution graph with the refused step's cycle"))
    expect(graph).to_have_accessible_name(re.compile("the cycle breaks the happens-before axiom"))
    expect(page.locator(".xgraph-fig.refused figcaption")).to_contain_text("axiom happens-before")
    cyc = page.locator(".edge-list li.in-cycle")
    expect(cyc).to_have_count(2)
    expect(cyc.first).to_contain_text("—mb→")
    expect(page.locator(".xgraph .edge.in-cycle")).to_have_count(2)


TABBED = "C tabs\n{}\n\nP0(int *x)\n{\n\tint r0;\n\n\tr0 = READ_ONCE(*x) +;\n}\n\nexists (0:r0=0)\n"


def test_editor_caret_under_the_token_with_tabs(page: Page):
    load(page, RACE)
    load_source(page, TABBED)
    err = page.locator("#source-error")
    expect(err).to_contain_text("syntax-error at line 8, column 22")
    pre = err.locator("pre.caret")
    line, caret = pre.inner_text().split("\n")[:2]
    assert line == "\tr0 = READ_ONCE(*x) +;" and caret == "\t" + " " * 20 + "^"
    # drawn under the ';', whatever a tab's width
    x_semi, x_caret = pre.evaluate("""p => {
        const t = p.firstChild, s = t.data, r = document.createRange();
        const at = (i) => { r.setStart(t, i); r.setEnd(t, i + 1); return r.getBoundingClientRect().left; };
        return [at(s.indexOf(';')), at(s.indexOf('^'))]; }""")
    assert abs(x_semi - x_caret) < 1
    # and the text cursor is on it
    area = page.get_by_label("Protocol source (LKMM litmus format)")
    expect(area).to_be_focused()
    assert area.evaluate("a => a.value[a.selectionStart]") == ";"


@pytest.mark.parametrize("text, words", [
    ("hello world", "neither a built-in protocol nor a litmus test: a litmus test starts with `C name`"),
    ("hello\nworld\n", "this is not a litmus test: a litmus test starts with `C name`"),
    ("", "the scenario is empty"),
])
def test_editor_errors_show_next_to_the_editor_in_words(page: Page, text: str, words: str):
    load(page, RACE)
    load_source(page, text)
    expect(page.locator("#editor #source-error")).to_contain_text(words)
    expect(page.locator("#source-error")).to_be_in_viewport()
    expect(page.locator("#refusal")).to_be_empty()  # not only in the banner, and not twice
    expect(page.locator("#source-error")).not_to_contain_text("expected one of: c")


def test_a_test_without_a_condition_is_forall_true(page: Page):
    load(page, RACE)
    load_source(page, "C nocond\n{}\nP0(int *x) {\n\tWRITE_ONCE(*x, 1);\n}\n")
    expect(page.locator("#banner")).to_contain_text("nocond")
    page.get_by_role("button", name=re.compile(r"^Step CPU0")).click()
    expect(page.locator('[data-value="summary"]')).to_have_text(
        "final state: the bad outcome is not reached (condition holds)")
    page.get_by_role("button", name="Explore all interleavings (sc)").click()
    expect(page.locator('[data-value="explore-verdict"]')).to_contain_text("Always")
    expect(page.locator(".condition code")).to_have_text("forall (true)")


def test_words_refcount_bad_outcome_progress_and_roles(page: Page):
    load(page, RACE)
    assert value(page, "page-split") == "1 pin × 1024 + 2 refs"
    # a scenario without a `Bad outcome:` line: the banner words it from the condition
    load_source(page, "C words\n{}\nP0(int *x) {\n\tint r0;\n\n\tr0 = READ_ONCE(*x);\n}\n"
                      "P1(int *x) {\n\tWRITE_ONCE(*x, 1);\n}\nexists (0:r0=1)\n")
    step(page, "CPU1", "CPU0")
    expect(page.locator('[data-value="bad-outcome"]')).to_have_text(
        "Bad outcome: a final state where CPU0's r0 (what READ_ONCE(*x) returned) is 1 (`exists (0:r0=1)` holds)")
    # the Code panel tells operations with the same text apart by their role
    load(page, RACE)
    code = page.get_by_role("region", name="CPU0 code")
    expect(code.locator("li")).to_have_count(6)
    roles = code.locator(".role").all_inner_texts()
    assert [r.strip(" —") for r in roles] == ["the call", "read of page._refcount", "read of page._mapcount",
                                             "the compare", "the return", "sets r0"]


def test_lkmm_progress_counts_candidate_executions_never_zero(page: Page):
    # (a small scenario: switching a large one to lkmm costs the session seconds of server time,
    # and the server's rate limit then drops the next messages; test_views.py follows the phases
    # of a large one in the worker itself)
    load(page, "bias-barrier-posted")
    page.evaluate("""() => {
      window.__stats = [];
      new MutationObserver(() => { const s = document.querySelector('[data-value="explore-stats"]');
        if (s) window.__stats.push(s.textContent); })
        .observe(document.body, {subtree: true, childList: true, characterData: true});
    }""")
    page.get_by_role("radio", name=re.compile("^lkmm")).check()
    ready(page)
    page.get_by_role("button", name="Explore all interleavings (lkmm)").click()
    expect(page.locator('[data-value="explore-verdict"]')).to_contain_text("lkmm: Sometimes")
    expect(page.locator('[data-value="explore-stats"]')).to_contain_text("candidate executions judged")
    seen = page.evaluate("window.__stats")
    # whatever the progress said on the way (how much depends on the machine's speed), it said it
    # in lkmm's words: what the checker does before the first candidate, then candidates judged
    allowed = (r"^starting…$", r"^Enumerating each CPU's paths and the values its reads may take… \(",
               r"^[1-9]\d* candidate executions judged(, \d+ outcomes, \d+ bad so far|; replaying the "
               r"counterexamples| *, \d+ final states)")
    assert seen and all(any(re.match(a, s) for a in allowed) for s in seen), seen


def test_phone_identifiers_never_break_mid_word_and_panels_fold(phone: Page):
    page = phone
    load(page, "bias-unsynchronized")
    step(page, "CPU1", "CPU1", "CPU1", "CPU0")
    page.get_by_role("button", name="Code", exact=True).click()  # folded by default on a phone
    expect(page.get_by_role("button", name="Code", exact=True)).to_have_attribute("aria-expanded", "true")
    bad = page.evaluate(NO_MIDWORD, "#timeline, #code, #state, #controls, #verdict")
    assert bad == [], f"broken mid-word: {bad}"
    no_horizontal_scroll(page)
    # the timeline and the page state are at most a screen apart
    gap = page.evaluate("document.getElementById('state').getBoundingClientRect().top"
                        " - document.getElementById('timeline').getBoundingClientRect().top")
    assert 0 < gap <= 844, gap
    # every panel folds from its heading
    page.get_by_role("button", name="Page state", exact=True).click()
    expect(page.get_by_role("button", name="Page state", exact=True)).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#state-body")).to_be_hidden()
    page.get_by_role("button", name="Page state", exact=True).click()
    expect(page.locator("#state-body")).to_be_visible()


def test_desktop_identifiers_never_break_mid_word(page: Page):
    load(page, RACE)
    step(page, *RACE_STEPS)
    assert page.evaluate(NO_MIDWORD, "#timeline, #code, #state, #controls, #verdict") == []


# ---- issue 17: lessons ------------------------------------------------------------------------------
def goal(page: Page):
    return page.locator("#goal-bar")


def test_a_lesson_walked_end_to_end_by_dragging(screen: Page):
    page = screen
    page.goto("/")
    page.get_by_role("tab", name=re.compile("^Lessons")).click()
    page.get_by_role("button", name=re.compile("^Lesson 8: The three-CPU snapshot")).click()
    expect(goal(page)).to_contain_text("Lesson 8 of 10 — goal: Reach the thread's diagram")
    expect(page).to_have_url(re.compile("#lesson=three-cpu-snapshot$"))
    step(page, "CPU0", "CPU0", "CPU1", "CPU2")  # the snapshot first: page_pinned() sees the pin
    expect(goal(page)).to_contain_text("This final state is not the bad outcome")
    expect(goal(page)).not_to_contain_text("Goal met")
    drag(page, 2, 0)  # CPU1's unpin above CPU0's snapshot: the thread's diagram
    expect(page.locator("tbody tr[data-row='0'] button.op")).to_have_attribute("data-token", "1:0")
    expect(goal(page)).to_contain_text("✓ Goal met: this final state is the bad outcome under sc")
    expect(goal(page)).to_be_in_viewport()  # the goal stayed in view through the drag
    expect(page.locator("#goal-announce")).to_have_text(re.compile("^Goal met: The three-CPU snapshot"))
    expect(page.get_by_role("region", name="✓ Goal met — the thread's argument")).to_contain_text(
        "the refcount snap-shot does not include the second GUP")
    # progress is kept in this browser
    assert "three-cpu-snapshot" in page.evaluate("localStorage.getItem('pinrace.lessons.done')")
    expect(page.get_by_role("tab", name=re.compile("^Lessons"))).to_have_text("Lessons (1/10)")
    page.get_by_role("button", name="Next lesson: The page-lock scheme").click()
    expect(goal(page)).to_contain_text("Lesson 9 of 10")
    expect(page).to_have_url(re.compile("#lesson=page-lock$"))
    page.reload()
    expect(goal(page)).to_contain_text("Lesson 9 of 10")  # the link opens the lesson
    expect(page.get_by_role("button", name=re.compile(r"^Lesson 8: .*\(done\)$"))).to_be_visible()


def test_a_lesson_walked_end_to_end_by_editing_the_code(screen: Page):
    page = screen
    page.goto("/#lesson=barrier-fix")
    expect(goal(page)).to_contain_text("Lesson 7 of 10 — goal: Edit CPU0's code")
    expect(page.get_by_role("radio", name=re.compile("^lkmm"))).to_be_checked()
    source = page.get_by_label("Protocol source (LKMM litmus format)")
    page.get_by_role("button", name="Edit or paste a protocol").click()
    original = source.input_value()
    assert "smp_wmb();" in original
    # a wrong fix first: smp_rmb() orders loads only
    load_source(page, original.replace("smp_wmb();", "smp_rmb();"))
    check = page.get_by_role("button", name="Run the exhaustive check under lkmm")
    expect(check).to_be_focused()
    check.click()
    expect(goal(page)).to_contain_text("Still reachable under lkmm (Sometimes)")
    # then the thread's fix
    load_source(page, original.replace("smp_wmb();", "smp_mb__after_atomic();"))
    expect(check).to_be_focused()
    page.keyboard.press("Enter")
    expect(goal(page)).to_contain_text("✓ Goal met: with your change the bad outcome is Never under lkmm")
    expect(page.locator("#goal-announce")).to_contain_text("Goal met: Fixing it with smp_mb__after_atomic()")
    expect(page.locator("#lesson")).to_contain_text("upgrades the unordered atomic_add() to a full barrier")


def tab_to(page: Page, selector: str, limit: int = 80) -> None:
    """Press Tab until the focused element matches `selector` (keyboard only)."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_lessons_with_the_keyboard_only_hints_one_at_a_time(page: Page):
    page.goto("/")
    ready(page)
    tab_to(page, "[role=tab][aria-selected=true]")
    page.keyboard.press("ArrowRight")  # to the Lessons tab
    expect(page.get_by_role("tab", name=re.compile("^Lessons"))).to_have_attribute("aria-selected", "true")
    tab_to(page, '[data-key="lesson-refcount-bias"]')
    page.keyboard.press("Enter")
    expect(goal(page)).to_contain_text("Lesson 1 of 10")
    expect(goal(page)).to_be_focused()  # the goal is read first
    hints = page.get_by_role("list", name="Hints")
    tab_to(page, '[data-key="hint"]')
    expect(page.locator('[data-key="hint"]')).to_have_text("Show a hint (1 of 3)")
    page.keyboard.press("Enter")
    expect(hints.locator("li")).to_have_count(1)
    expect(hints).to_contain_text("pins × 1024 + references")
    expect(page.locator('[data-key="hint"]')).to_have_text("Show a hint (2 of 3)")
    # the solution, stepping with Enter: CPU0 pins, then CPU1's page_pinned() reads
    tab_to(page, '[data-key^="step-0:"]')
    for n in range(1, 4):
        page.keyboard.press("Enter")
        expect(page.locator('[data-value="position"]')).to_have_text(f"at step {n} of {n}")
    expect(goal(page)).to_contain_text("✓ Goal met: the run ends with 1:r0=1 under sc")
    tab_to(page, '[data-key="lesson-next"]')
    page.keyboard.press("Enter")
    expect(goal(page)).to_contain_text("Lesson 2 of 10")
    expect(page.get_by_role("list", name="Hints")).to_have_count(0)  # hints start over
    tab_to(page, '[data-key="lesson-leave"]')
    page.keyboard.press("Enter")
    expect(goal(page)).to_be_hidden()


def test_why_not_now_draws_the_cycle_a_step_would_close(page: Page):
    load(page, "bias-barrier-fixed")
    page.get_by_role("radio", name=re.compile("^lkmm")).check()
    ready(page)
    # CPU0's PageWriteback() read is not offered: smp_mb__after_atomic() keeps it after the add
    why = page.get_by_role("button", name=re.compile(r"^Why can CPU0 not run line \d+ test_bit\("))
    why.click()
    expect(page.locator("#refusal")).to_contain_text("Step refused")
    expect(page.locator("#refusal")).to_contain_text("smp_mb__after_atomic()")
    graph = page.get_by_role("img", name=re.compile(r"^Execution graph with the refused step's cycle"))
    expect(graph).to_have_accessible_name(re.compile("happens-before"))
    expect(page.locator(".xgraph .node.ghost")).to_have_count(2)  # neither step has run: dashed boxes
    expect(page.locator("tbody tr[data-row]")).to_have_count(0)  # nothing ran


def test_the_explore_diagram_is_not_clipped_at_1280(screen: Page):
    page = screen
    load(page, RACE)
    page.get_by_role("button", name="Explore all interleavings (sc)").click()
    page.get_by_text("Its diagram, as text").click()
    pre = page.get_by_label("Counterexample 1 as a diagram")
    expect(pre).to_contain_text("| CPU2")
    assert pre.evaluate("p => p.scrollWidth <= p.clientWidth"), "the diagram's CPU2 column is cut off"
