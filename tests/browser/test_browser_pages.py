"""Every page of the toc, as a reader sees it in Chromium (see conftest.py).

``page`` runs over whatever _toc.yml lists; the checks for chapter notebooks
(launch buttons, .ipynb download) apply to every page that is a notebook.
"""

from __future__ import annotations

import importlib
import inspect
import pathlib
import posixpath
import urllib.parse

import pytest
import yaml
from .bookpages import ROOT, is_notebook, toc_pages
from .conftest import MARKUP_JS

# the log-sum-exp chapter, which a search for "logsumexp" must find
LOGSUMEXP_CHAPTER = "book/04_logsumexp"
API_PAGE = "book/api"
LAUNCH = yaml.safe_load((ROOT / "_config.yml").read_text())["launch_buttons"]


def test_page_loads_cleanly(visit, page):
    """No console error, no uncaught exception, no failed or off-site request."""
    problems = visit(page).tab.problems()
    assert not problems, f"{page}.html:\n" + "\n".join(problems)


def test_math_is_typeset(visit, page):
    math = visit(page).math
    print(f"{page}: {math['elements']} math elements, {math['rendered']} mjx-container")
    if math["elements"]:
        assert math["mathjax"], f"{page}.html has math but MathJax did not load"
    assert not math["untypeset"], f"math left untypeset on {page}.html: {math['untypeset']}"
    assert math["rendered"] >= math["elements"], math
    assert not math["errors"], f"TeX MathJax could not read on {page}.html: {math['errors']}"
    assert not math["raw"], f"raw TeX visible on {page}.html: {math['raw']}"


def test_images_loaded(visit, page):
    images = visit(page).images
    broken = [i["src"] for i in images if i["naturalWidth"] == 0]
    assert not broken, f"images that did not load on {page}.html: {broken}"
    if is_notebook(page):
        print(f"{page}: {sum(i['inFigure'] for i in images)} figures")


def test_screenshot_saved(visit, page):
    shot = visit(page).screenshot
    assert shot.exists() and shot.stat().st_size > 10_000, shot


def test_download_and_launch_buttons(visit, page):
    """Every page offers its source; a notebook chapter also Binder, Colab and its .ipynb."""
    tab = visit(page).tab
    hrefs = tab.page.eval_on_selector_all(
        ".dropdown-download-buttons a[href], .dropdown-launch-buttons a[href]",
        "els => els.map(e => e.getAttribute('href'))",
    )
    local = [h for h in hrefs if "://" not in h]
    assert local, f"{page}.html has no download button"
    for href in local:  # the download links point at files that are there
        url = urllib.parse.urljoin(tab.page.url, href)
        assert tab.page.request.get(url).ok, f"download link {href} on {page}.html is broken"
    if not is_notebook(page):
        return
    name = posixpath.basename(page) + ".ipynb"
    assert any(h.endswith("/" + name) for h in local), f"no .ipynb download on {page}.html: {hrefs}"
    for provider in ("binderhub_url", "colab_url"):
        base = LAUNCH[provider].rstrip("/")
        ok = [h for h in hrefs if h.startswith(base) and name in h]
        assert ok, f"no launch button for {base} on {page}.html: {hrefs}"


def _dropdowns(tab):
    """Solution/exercise dropdowns: togglebutton admonitions and <details>."""
    return tab.page.locator(".admonition.dropdown, details:not(.toggle-details)")


def test_dropdowns_open_on_click(visit, page):
    """Every dropdown on the page is closed, and opens when its title is clicked."""
    tab = visit(page).tab
    before = len(tab.problems())
    boxes = _dropdowns(tab)
    for i in range(boxes.count()):
        box = boxes.nth(i)
        if box.evaluate("e => e.tagName") == "DETAILS":
            title, body = box.locator(":scope > summary"), box.locator(":scope > :not(summary)").first
        else:  # togglebutton: the chevron button in the title (the title's text may be a link)
            title = box.locator(":scope > .admonition-title .toggle-button")
            body = box.locator(":scope > :not(.admonition-title)").first
        label = box.inner_text().strip()[:60]
        assert body.is_hidden(), f"dropdown {label!r} on {page}.html is open before a click"
        title.click()
        body.wait_for(state="visible", timeout=3000)
        assert body.is_visible(), f"dropdown {label!r} on {page}.html did not open on click"
    assert len(tab.problems()) == before, tab.problems()[before:]  # clicks raised no error


def test_the_book_has_solution_dropdowns(visit):
    """At least one exercise solution in the book is a dropdown (checked above)."""
    counts = {p: visit(p).tab.page.locator(".solution.dropdown").count() for p in toc_pages()}
    print("solution dropdowns per page:", counts)
    assert sum(counts.values()) > 0, f"no solution dropdown on any toc page: {counts}"


def test_search_finds_logsumexp(open_tab):
    assert LOGSUMEXP_CHAPTER in toc_pages(), f"{LOGSUMEXP_CHAPTER} is not in _toc.yml"
    tab = open_tab("search.html?q=logsumexp")
    tab.page.wait_for_function(
        "() => /found|did not match/i.test("
        "(document.querySelector('#search-results .search-summary') || {}).textContent || '')",
        timeout=15000,
    )
    links = tab.page.eval_on_selector_all(
        "#search-results ul.search a[href]", "els => els.map(e => e.href)"
    )
    paths = {urllib.parse.urlsplit(u).path.lstrip("/") for u in links}
    assert f"{LOGSUMEXP_CHAPTER}.html" in paths, f"search for logsumexp found {sorted(paths)}"
    assert not tab.problems(), tab.problems()


@pytest.mark.parametrize("path", ["search.html", "genindex.html"])
def test_other_pages_load_cleanly(open_tab, path):
    tab = open_tab(path)
    assert not tab.problems(), f"{path}:\n" + "\n".join(tab.problems())


def test_index_redirects_to_the_first_page(browser, site):
    page = browser.new_page()
    try:
        page.goto(site + "index.html")
        page.wait_for_url(f"{site}{toc_pages()[0]}.html", timeout=10000)
    finally:
        page.close()


FIXTURES = pathlib.Path(__file__).with_name("fixtures")


def test_no_raw_markup(visit, page):
    """No reST or MyST source reaches the reader as text (see MARKUP_JS)."""
    markup = visit(page).markup
    assert not markup, f"raw markup on {page}.html:\n" + "\n".join(markup)


def test_raw_markup_check_catches_the_old_api_page(open_tab):
    """The check above fails on the API page as it was built before the fix.

    The fixture is an excerpt of that page (autodoc's reST left as text);
    if MARKUP_JS stopped flagging it, the check could no longer fail.
    """
    tab = open_tab("search.html")  # any served page: a tab with the routing set up
    tab.page.set_content((FIXTURES / "api_page_raw_rest.html").read_text())
    found = tab.page.evaluate(MARKUP_JS)
    assert any(f.startswith("reST directive: .. py:module:: coursepkg.logsumexp") for f in found), found
    assert any(f.startswith("reST directive: .. math::") for f in found), found
    # and rendered markup passes: the same kinds of content, rendered
    tab.page.set_content(
        "<main><p>The <code>.. math::</code> directive and <span class='math'>"
        "<mjx-container>x</mjx-container></span>, {0, 1} and (a, b) = c.</p>"
        "<pre>$$ x $$ \\begin{align} :func:`f` {ref}`x`</pre></main>")
    assert tab.page.evaluate(MARKUP_JS) == []


def _public(face):
    """(name, 'function' | 'class') for every public callable of a face."""
    module = importlib.import_module(f"coursepkg.{face}")
    for name in module.__all__:
        obj = getattr(module, name)
        yield name, "class" if inspect.isclass(obj) else "function"


@pytest.mark.parametrize("face", ["numpy", "torch"])
def test_api_page_renders_every_public_name(visit, face):
    """Each public function/class of both faces: a rendered signature and its sections."""
    tab = visit(API_PAGE).tab
    missing, bare = [], []
    for name, kind in _public(face):
        target = f"coursepkg.{face}.{name}"
        if name == "GradcheckResult":  # one object, documented once for both faces
            target = "coursepkg.gradients.GradcheckResult"
        dt = tab.page.locator(f"dl.py.{kind} > dt[id='{target}']")
        if dt.count() != 1:
            missing.append(f"{target} ({kind})")
            continue
        info = dt.evaluate("""dt => ({
            params: dt.querySelectorAll('.sig-param').length,
            fields: [...dt.nextElementSibling.querySelectorAll('dl.field-list > dt')]
                    .map(e => e.textContent.trim()),
        })""")
        # numpydoc sections render as a field list (Parameters, Returns, ...)
        if kind == "function" and (not info["fields"] or not info["params"]):
            bare.append(f"{target}: {info}")
    assert not missing, f"{API_PAGE}.html documents no rendered signature for: {missing}"
    assert not bare, f"functions without rendered parameters on {API_PAGE}.html: {bare}"


def test_every_page_has_a_favicon_that_loads(visit, page):
    tab = visit(page).tab
    icons = tab.page.eval_on_selector_all("link[rel~='icon']", "els => els.map(e => e.href)")
    assert icons, f"{page}.html declares no favicon (browsers then request /favicon.ico: a 404)"
    for url in icons:
        assert tab.page.request.get(url).ok, f"favicon {url} of {page}.html does not load"


# every image in a page's content, with its alt text (None when absent)
IMAGE_ALTS_JS = """() => [...document.querySelectorAll('main img')].map(i => ({
  src: i.getAttribute('src'), alt: i.getAttribute('alt'),
}))"""


def _without_alt(images):
    return [i["src"] for i in images if not (i["alt"] or "").strip()]


def test_every_content_image_has_alt_text(visit, page):
    """A reader who cannot see a figure gets its alt text (MyST-NB's
    ``mystnb.image.alt`` cell metadata, or a figure directive's ``:alt:``)."""
    images = visit(page).tab.page.evaluate(IMAGE_ALTS_JS)
    missing = _without_alt(images)
    assert not missing, f"images without alt text on {page}.html: {missing}"


def test_alt_text_check_catches_an_image_without_alt(open_tab):
    """The check above fails on an image with no alt, or an empty one."""
    tab = open_tab("search.html")  # any served page: a tab with the routing set up
    tab.page.set_content(
        "<main><img src='a.png'><img src='b.png' alt=' '>"
        "<img src='c.png' alt='a bar chart'></main>")
    assert _without_alt(tab.page.evaluate(IMAGE_ALTS_JS)) == ["a.png", "b.png"]
