"""Sphinx extension: write each <script> of a page once.

Sphinx 7.4 lists a body-only script twice when an extension adds it after the
builder started (sphinx-thebe and sphinx-togglebutton do): once with the
filename None, once with '', so Sphinx's own check sees two scripts.  A repeated
``const THEBE_JS_URL = ...`` is a SyntaxError in the reader's browser on every
page (found by tests/browser); this drops the repeats.
"""

from __future__ import annotations


def _once(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        key = (js.filename or "", repr(sorted(js.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    context["script_files"] = unique


def setup(app):
    # late, after the extensions that add scripts to the page context
    app.connect("html-page-context", _once, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
