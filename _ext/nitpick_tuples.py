"""Sphinx extension: ``nitpick_ignore`` entries from ``_config.yml`` as tuples.

Sphinx skips a missing reference when ``(type, target) in nitpick_ignore``,
a comparison with a tuple.  YAML has no tuples: Jupyter Book hands the
entries over as two-element lists, which never equal a tuple, so every
entry was silently ignored.  This turns them into tuples when the
configuration is read (the same for ``nitpick_ignore_regex``).
"""

from __future__ import annotations


def _as_tuples(app, config):
    for name in ("nitpick_ignore", "nitpick_ignore_regex"):
        entries = getattr(config, name, None) or []
        bad = [e for e in entries if len(e) != 2]
        if bad:
            raise ValueError(f"{name}: each entry is [type, target], got {bad}")
        setattr(config, name, [tuple(e) for e in entries])


def setup(app):
    app.connect("config-inited", _as_tuples)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
