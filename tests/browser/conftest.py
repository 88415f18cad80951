"""The built book, served on localhost and opened in headless Chromium.

Debian's ``chromium`` (``/usr/bin/chromium``, installed by ``make test``)
driven by Playwright for Python; Playwright's own browser downloads are never
used.  Every request that would leave 127.0.0.1 is aborted and recorded: the
pages must work offline.

``COURSE_SKIP_BROWSER=1`` leaves the browser tests out (they are reported as
skipped, with what was not checked); CI never sets it.
"""

from __future__ import annotations

import dataclasses
import functools
import http.server
import os
import pathlib
import threading
import urllib.parse

import pytest
from .bookpages import EXTERNAL_KEY, ROOT, toc_pages

SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium")
SKIP_BROWSER = os.environ.get("COURSE_SKIP_BROWSER") == "1"
# The flags that keep Debian's Chromium quiet on a machine with no network.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LEFT_OUT = (
    "COURSE_SKIP_BROWSER=1: the browser tests were left out, so NOT checked: pages load "
    "without console errors or failed/off-site requests, MathJax typesetting, figures "
    "loaded, solution dropdowns, search, launch/download buttons, screenshots"
)


def pytest_generate_tests(metafunc):
    """``page``: every page that _toc.yml lists, read when the tests are collected."""
    if "page" in metafunc.fixturenames:
        metafunc.parametrize("page", toc_pages())


def pytest_collection_modifyitems(config, items):
    if not SKIP_BROWSER:
        return
    skip = pytest.mark.skip(reason=LEFT_OUT)
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    if SKIP_BROWSER:
        terminalreporter.write_line(LEFT_OUT, yellow=True)
    external = terminalreporter.config.stash.get(EXTERNAL_KEY, None)
    if external is not None:
        terminalreporter.write_line(
            f"link check: {len(external)} external links listed, not fetched "
            f"(_build/external-links.txt)"
        )



# --- serving and browsing -------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def site(book_build) -> str:
    """Base URL of ``_build/html`` served by a thread on 127.0.0.1."""
    assert (book_build.html / "index.html").exists(), (
        "the book build wrote no index.html:\n" + book_build.log[-3000:]
    )
    handler = functools.partial(_QuietHandler, directory=str(book_build.html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    if not pathlib.Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} not found. Install Debian's chromium (`sudo apt-get install chromium`; "
            "`make test` does it when allowed), or set COURSE_SKIP_BROWSER=1 to leave the "
            "browser tests out."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # Playwright gives every launch a fresh, empty profile directory.
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield b
        b.close()


def is_local(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or parts.hostname == "127.0.0.1"


@dataclasses.dataclass
class Tab:
    """A page opened in a fresh browser context, with everything it logged."""

    page: object
    console_errors: list = dataclasses.field(default_factory=list)
    page_errors: list = dataclasses.field(default_factory=list)
    failed: list = dataclasses.field(default_factory=list)
    off_site: list = dataclasses.field(default_factory=list)

    def problems(self) -> list[str]:
        return (
            [f"console error: {e}" for e in self.console_errors]
            + [f"uncaught exception: {e}" for e in self.page_errors]
            + [f"failed request: {e}" for e in self.failed]
            + [f"request leaving localhost (blocked): {e}" for e in self.off_site]
        )


@pytest.fixture(scope="session")
def open_tab(browser, site):
    """``open_tab(path)``: load ``site + path`` and wait until it is settled."""
    contexts = []

    def _open(path: str) -> Tab:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        contexts.append(context)
        tab = Tab(context.new_page())

        def route(r):
            if is_local(r.request.url):
                r.continue_()
            else:
                tab.off_site.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        tab.page.on(
            "console",
            lambda m: m.type == "error" and tab.console_errors.append(f"{m.text} ({m.location.get('url')})"),
        )
        tab.page.on("pageerror", lambda e: tab.page_errors.append(str(e)))
        tab.page.on(
            "requestfailed",
            lambda r: is_local(r.url) and tab.failed.append(f"{r.url}: {r.failure}"),
        )
        tab.page.on(
            "response", lambda r: r.status >= 400 and tab.failed.append(f"{r.url}: HTTP {r.status}")
        )
        tab.page.goto(site + path, wait_until="load")
        tab.page.evaluate(SETTLE_JS)
        tab.page.wait_for_load_state("networkidle")
        return tab

    yield _open
    for context in contexts:
        context.close()


# Wait for MathJax's first typeset, its fonts and every image (lazy ones too).
SETTLE_JS = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  const imgs = [...document.images];
  imgs.forEach(i => { i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => {
    i.addEventListener('load', r); i.addEventListener('error', r);
  })));
  await document.fonts.ready;
}"""


@dataclasses.dataclass
class Visit:
    tab: Tab
    math: dict
    images: list
    screenshot: pathlib.Path
    markup: list  # reST or MyST source shown as text (MARKUP_JS)


MATH_JS = """() => {
  const maths = [...document.querySelectorAll('span.math, div.math')];
  const untypeset = maths.filter(m => !m.querySelector('mjx-container'))
                         .map(m => m.textContent.trim().slice(0, 80));
  // TeX that MathJax could not read: merror, or an undefined macro (red text)
  const errors = [];
  if (window.MathJax && MathJax.startup && MathJax.startup.document) {
    for (const item of MathJax.startup.document.math) {
      const mml = MathJax.startup.toMML(item.root);
      if (/<merror|mathcolor="red"/.test(mml)) errors.push(item.math.slice(0, 80));
    }
  }
  // raw TeX left in the text a reader sees (code is allowed to show TeX)
  const main = document.querySelector('main') || document.body;
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  const raw = [];
  const rawTeX = /\\$\\$|\\\\[()\\[\\]]|\\\\(frac|begin|end|sum|mathbf|operatorname|left|right)\\b/;
  while (walker.nextNode()) {
    const n = walker.currentNode;
    if (n.parentElement.closest('pre, code, script, style, textarea, mjx-container, .highlight')) continue;
    if (rawTeX.test(n.textContent)) raw.push(n.textContent.trim().slice(0, 80));
  }
  return {
    elements: maths.length,
    rendered: document.querySelectorAll('mjx-container').length,
    untypeset, errors, raw,
    mathjax: !!(window.MathJax && MathJax.version),
  };
}"""

# reST or MyST source that reached the reader as text instead of being
# rendered: a directive (".. math::", "```{note}", "{automodule}"), a role
# (":func:`x`", "{ref}`x`"), a MyST target "(label)=", display-math
# delimiters or a LaTeX environment.  Code blocks may show any of these.
MARKUP_JS = """() => {
  const patterns = [
    [/(^|\\s)\\.\\. [A-Za-z][\\w:-]*::/, 'reST directive'],
    [/\\{[a-z][\\w:-]*\\}(`|\\s*$)/m, 'MyST directive or role'],
    [/(^|[\\s(])[:][a-z][\\w-]*(:[a-z][\\w-]*)?:`/, 'reST role'],
    [/^\\s*\\([\\w-]+\\)=\\s*$/m, 'MyST target'],
    [/\\$\\$/, 'display math delimiters'],
    [/\\\\begin\\{/, 'LaTeX environment'],
  ];
  const main = document.querySelector('main') || document.body;
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  const found = [];
  while (walker.nextNode()) {
    const n = walker.currentNode;
    if (n.parentElement.closest('pre, code, script, style, textarea, mjx-container, .highlight')) continue;
    for (const [re, what] of patterns) {
      if (re.test(n.textContent)) found.push(what + ': ' + n.textContent.trim().slice(0, 80));
    }
  }
  return found;
}"""

FIGURES = "main figure img, main .cell_output img, main .output img"
IMAGES_JS = """() => [...document.images].map(i => ({
  src: i.getAttribute('src'), naturalWidth: i.naturalWidth,
  inFigure: i.matches('%s'),
}))""" % FIGURES


@pytest.fixture(scope="session")
def visit(open_tab):
    """``visit(page)``: a toc page opened once a session, measured, and screenshots
    taken of its first screen and of the screen around each figure."""

    @functools.cache
    def _visit(page: str) -> Visit:
        tab = open_tab(f"{page}.html")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / (page.replace("/", "__") + ".png")
        tab.page.screenshot(path=str(shot))  # the first screen, as a reader lands
        for old in SCREENSHOTS.glob(shot.stem + "--figure*.png"):
            old.unlink()
        figures = tab.page.locator(FIGURES)
        for i in range(figures.count()):  # and the screen around each figure
            figures.nth(i).scroll_into_view_if_needed()
            tab.page.screenshot(path=str(SCREENSHOTS / f"{shot.stem}--figure{i + 1}.png"))
        tab.page.evaluate("window.scrollTo(0, 0)")
        return Visit(tab, tab.page.evaluate(MATH_JS), tab.page.evaluate(IMAGES_JS), shot,
                     tab.page.evaluate(MARKUP_JS))

    return _visit
