"""Every local link of the built HTML resolves, to a file and to an anchor in it.

Nothing is fetched: external links are only listed, in
``_build/external-links.txt`` and in the test summary.
"""

from __future__ import annotations

import functools
import html.parser
import pathlib
import posixpath
import urllib.parse

from .bookpages import EXTERNAL_KEY

# attributes that point at another file
LINK_ATTRS = {"href", "src"}
# built files that are not pages of the book (theme and MathJax internals)
NOT_PAGES = ("_static", "_sources", "mathjax", "_images")


class _Parser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.anchors: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value is None:
                continue
            if name in ("id", "name") and tag != "meta":
                self.anchors.add(value)
            elif name in LINK_ATTRS and tag in ("a", "link", "script", "img", "source", "iframe"):
                self.links.append(value)


@functools.cache
def _parse(path: pathlib.Path) -> _Parser:
    parser = _Parser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _pages(html_dir: pathlib.Path):
    for path in sorted(html_dir.rglob("*.html")):
        if path.relative_to(html_dir).parts[0] not in NOT_PAGES:
            yield path


def check_links(html_dir: pathlib.Path) -> tuple[list[str], list[str]]:
    """(broken local links, external links) of every page under ``html_dir``."""
    broken, external = [], set()
    for page in _pages(html_dir):
        rel_page = page.relative_to(html_dir).as_posix()
        for link in _parse(page).links:
            parts = urllib.parse.urlsplit(link)
            if parts.scheme or link.startswith("//"):
                if parts.scheme not in ("javascript", "data", "mailto"):
                    external.add(link)
                continue
            if parts.path:
                target_rel = posixpath.normpath(
                    posixpath.join(posixpath.dirname(rel_page), urllib.parse.unquote(parts.path))
                )
                target = html_dir / target_rel
                if target.is_dir():
                    target = target / "index.html"
            else:
                target = page
            if _outside(html_dir, target) or not target.is_file():
                broken.append(f"{rel_page}: {link} (no file)")
                continue
            fragment = urllib.parse.unquote(parts.fragment)
            if fragment and target.suffix == ".html" and fragment not in _parse(target).anchors:
                broken.append(f"{rel_page}: {link} (no anchor #{fragment})")
    return broken, sorted(external)


def _outside(html_dir: pathlib.Path, target: pathlib.Path) -> bool:
    return not target.resolve().is_relative_to(html_dir.resolve())


def test_internal_links_resolve(book_build, request):
    broken, external = check_links(book_build.html)
    listing = book_build.html.parent / "external-links.txt"
    listing.write_text("".join(f"{url}\n" for url in external))
    request.config.stash[EXTERNAL_KEY] = external
    print(f"{len(external)} external links (not fetched):", *external, sep="\n  ")
    assert not broken, f"{len(broken)} broken internal links:\n" + "\n".join(broken)


def test_link_checker_catches_a_broken_link(tmp_path):
    """The checker itself: a missing file and a missing anchor are both reported."""
    (tmp_path / "a.html").write_text(
        '<p id="here"><a href="#here">ok</a><a href="b.html#gone">x</a>'
        '<img src="missing.png"><a href="https://example.org">ext</a></p>'
    )
    (tmp_path / "b.html").write_text('<h1 id="top">b</h1>')
    broken, external = check_links(tmp_path)
    assert broken == ["a.html: b.html#gone (no anchor #gone)", "a.html: missing.png (no file)"]
    assert external == ["https://example.org"]
