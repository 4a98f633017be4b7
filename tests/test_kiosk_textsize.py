"""The kiosk's text size control (字号: 标准 / 大 / 特大) as the server draws it: a labelled group of three real buttons
in the page's header, outside the slide the polls replace, the standard size pressed; its words go through gettext;
it needs nothing but the kiosk's own script and stylesheet, which the service worker keeps for offline use.
How it behaves in a browser: tests/browser/test_kiosk_textsize_browser.py."""

from __future__ import annotations

import json
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.extract import extract_from_file

from tests.kiosk_helpers import publish, register

ROOT = Path(__file__).resolve().parent.parent


class _Control(HTMLParser):
    """The text size group's label and buttons, and whether they come before the slide (<main>)."""

    def __init__(self):
        super().__init__()
        self.group: dict | None = None
        self.buttons: list[dict] = []
        self.labels: dict[str, str] = {}
        self.before_main = None
        self._in: str | None = None
        self._label_id: str | None = None
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "main" and self.before_main is None:
            self.before_main = self.group is not None
        if a.get("role") == "group" and "k-textsize" in a.get("class", ""):
            self.group = a
        if tag == "button" and "data-text-size" in a:
            self.buttons.append({**a, "text": ""})
            self._in = "button"
        if a.get("id") and self.group is not None and a["id"] == self.group.get("aria-labelledby"):
            self._label_id, self._in = a["id"], "label"
            self.labels[a["id"]] = ""

    def handle_endtag(self, tag):
        if tag in ("button", "span"):
            self._in = None

    def handle_data(self, data):
        if self._in == "button":
            self.buttons[-1]["text"] += data.strip()
        elif self._in == "label":
            self.labels[self._label_id] += data.strip()


def test_the_kiosk_has_a_labelled_group_of_three_size_buttons_outside_the_slide(client, session, world):
    kiosk = register(session, world.regions["comm_a1"])
    publish(session, world.regions["comm_a1"], ["张建国", "李秀英", "王淑珍"])
    page = client.get(f"/kiosk/{kiosk.token}").get_data(as_text=True)
    control = _Control()
    control.feed(page)

    assert control.group is not None and control.labels[control.group["aria-labelledby"]] == "字号"
    assert [(b["data-text-size"], b["text"], b["aria-pressed"], b.get("type")) for b in control.buttons] == [
        ("standard", "标准", "true", "button"), ("large", "大", "false", "button"),
        ("largest", "特大", "false", "button")]
    assert control.before_main  # in the header: the slide the polls swap in never replaces it
    slide = client.get(f"/kiosk/{kiosk.token}/slide/1").get_data(as_text=True)
    assert "data-text-size" not in slide and 'id="k-slide"' in slide
    # a slide shown in parts says which part, in the page's words with stand-in numbers (static/js/kiosk.js)
    assert 'data-part-words="第 1001 / 1002 部分"' in page
    # offline it needs only what the service worker already keeps of the kiosk: its script and its stylesheet
    assets = json.loads(unescape(page.split('data-assets="', 1)[1].split('"', 1)[0]))
    paths = {asset.split("?", 1)[0] for asset in assets}  # (scripts and stylesheets carry their content's hash)
    assert "/static/js/kiosk.js" in paths and "/static/css/kiosk.css" in paths


def test_the_controls_words_are_messages_for_translation():
    found = {message for _line, message, _comments, _context in extract_from_file(
        "jinja2", ROOT / "templates" / "kiosk" / "display.html")}
    assert {"字号", "标准", "大", "特大", "第 %(part)d / %(parts)d 部分"} <= found
