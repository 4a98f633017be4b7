"""Real local servers for the notification tests: an SMTP server (aiosmtpd) and an HTTP stub of the SMS gateway.

Import the fixtures into a test module (``from tests.servers import smtp_server, sms_gateway``).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list = field(default_factory=list)  # email.message.EmailMessage, as received

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's handler protocol
        message = message_from_bytes(envelope.content, policy=policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted for delivery"


@contextmanager
def serving(mailbox: Mailbox) -> Iterator[Mailbox]:
    """``mailbox`` (a :class:`Mailbox` or a subclass answering otherwise) served by aiosmtpd on its port."""
    from aiosmtpd.controller import Controller

    controller = Controller(mailbox, hostname=mailbox.host, port=mailbox.port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


@pytest.fixture
def smtp_server():
    """An aiosmtpd SMTP server on a free local port; ``.messages`` holds what it received."""
    with serving(Mailbox("127.0.0.1", _free_port())) as mailbox:
        yield mailbox


@dataclass
class Gateway:
    url: str = ""
    received: list = field(default_factory=list)  # (headers, json body)
    answers: list = field(default_factory=list)  # statuses to answer in turn; then 200

    def __call__(self, environ, start_response):
        request = Request(environ)
        self.received.append((dict(request.headers), json.loads(request.get_data(as_text=True))))
        status = self.answers.pop(0) if self.answers else 200
        return Response(json.dumps({"ok": status == 200}), status=status, mimetype="application/json")(
            environ, start_response)


@pytest.fixture
def sms_gateway():
    """A local HTTP stub of the SMS gateway: records each POST, answers the statuses queued in ``answers``."""
    gateway = Gateway()
    server = make_server("127.0.0.1", 0, gateway, threaded=True)
    gateway.url = f"http://127.0.0.1:{server.server_port}/send"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield gateway
    server.shutdown()
    thread.join(5)
