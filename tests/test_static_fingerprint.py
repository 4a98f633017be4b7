"""Scripts and stylesheets are named with a hash of their content (dibao.web.static_fingerprint): a deploy changes
the URL of what it changed, so no browser or kiosk runs an older script under a newer page."""

from __future__ import annotations

import hashlib

from dibao import web


def test_fingerprints_follow_the_content(app, tmp_path, monkeypatch):
    """The hash is the file's: a changed file gets a new URL, an unchanged one keeps it (computed once)."""
    static = tmp_path / "static"
    (static / "js").mkdir(parents=True)
    script = static / "js" / "a.js"
    script.write_text("one")
    monkeypatch.setattr(app, "static_folder", str(static))
    with app.test_request_context():
        from flask import url_for

        first = url_for("static", filename="js/a.js")
        assert first == f"/static/js/a.js?v={hashlib.sha256(b'one').hexdigest()[:12]}"
        assert url_for("static", filename="js/a.js") == first
        script.write_text("two, longer")
        assert url_for("static", filename="js/a.js") == f"/static/js/a.js?v={hashlib.sha256(b'two, longer').hexdigest()[:12]}"
        assert url_for("static", filename="js/missing.js") == "/static/js/missing.js"
        assert url_for("static", filename="favicon.ico") == "/static/favicon.ico"
    assert web.FINGERPRINTED == {".css", ".js"}
