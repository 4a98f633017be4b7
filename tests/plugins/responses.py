"""One hook on every response of every app the suite creates (test clients and the browser tests' live server):
``Flask.process_response`` is wrapped once, and each recorder registered here sees each response. The suite-wide
checks (no public leak of ID or phone numbers, no ``="None"`` attribute) record through it."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

RECORDERS: list[Callable] = []


def on_response(recorder: Callable) -> None:
    if recorder not in RECORDERS:
        RECORDERS.append(recorder)
    if getattr(Flask.process_response, "_suite_recorders", False):
        return
    original = Flask.process_response

    def process_response(self, response):
        response = original(self, response)
        for record in RECORDERS:
            record(response)
        return response

    process_response._suite_recorders = True  # type: ignore[attr-defined]
    Flask.process_response = process_response  # type: ignore[method-assign]
