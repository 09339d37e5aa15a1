"""Real receivers on 127.0.0.1 for tests and the demo: an SMTP server and an HTTP server that record traffic.

Both pick a free port themselves (or take `port`, e.g. the defaults of the example channels.yaml: SMTP 2525,
HTTP 8025), start and stop in well under a second, and are context managers. Each can be told to answer its
first requests with an error (`first_replies`, `first_statuses`) to exercise retries.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, TypeVar

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"
T = TypeVar("T")


@dataclass(frozen=True)
class ReceivedEmail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    peer: object
    """The client's address: one port for several emails means they shared one connection."""


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: Message
    """Looked up case-insensitively, as HTTP header names are."""
    body: bytes
    status: int
    """What the server answered."""

    def json(self) -> Any:
        return json.loads(self.body)


class _Replies(Generic[T]):
    """Answers the first requests from a script, then `default`; thread-safe."""

    def __init__(self, first: Sequence[T], default: T) -> None:
        self._first = list(first)
        self._default = default
        self._lock = threading.Lock()

    def next(self) -> T:
        with self._lock:
            return self._first.pop(0) if self._first else self._default


class _FreePortController(Controller):
    """aiosmtpd binds port 0 fine but then probes the port it was given; probe the one the OS chose."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class LocalSmtpServer:
    """Accepts every email (after the scripted `first_replies`, e.g. `["451 try later"]`) and keeps it."""

    def __init__(self, first_replies: Sequence[str] = (), port: int = 0) -> None:
        self.received: list[ReceivedEmail] = []
        self._replies = _Replies(first_replies, "250 OK")
        self._requested_port = port
        self._controller: Controller | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        reply = self._replies.next()
        if reply.startswith("250"):
            content = envelope.content if isinstance(envelope.content, bytes) else b""
            # SMTP carries CRLF line ends; store the email as the template wrote it, with plain newlines
            parsed = message_from_bytes(content.replace(b"\r\n", b"\n"), policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            self.received.append(
                ReceivedEmail(str(envelope.mail_from), list(envelope.rcpt_tos), parsed, session.peer)
            )
        return reply

    @property
    def port(self) -> int:
        assert self._controller is not None, "start the server first: `with LocalSmtpServer() as server:`"
        return int(self._controller.port)

    def __enter__(self) -> LocalSmtpServer:
        self._controller = _FreePortController(self, hostname=HOST, port=self._requested_port)
        self._controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        assert self._controller is not None
        self._controller.stop()
        self._controller = None


class LocalHttpServer:
    """Answers every POST with 200 `{"ok": true}` (after the scripted `first_statuses`) and keeps it."""

    def __init__(self, first_statuses: Sequence[int] = (), port: int = 0) -> None:
        self.received: list[ReceivedRequest] = []
        self._statuses = _Replies(first_statuses, 200)
        self._requested_port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = outer._statuses.next()
                outer.received.append(ReceivedRequest(self.path, self.headers, body, status))
                answer = json.dumps({"ok": status < 400}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: tests and the demo read `received` instead of the access log."""

        return Handler

    @property
    def port(self) -> int:
        assert self._server is not None, "start the server first: `with LocalHttpServer() as server:`"
        return int(self._server.server_address[1])

    def url(self, path: str = "/") -> str:
        return f"http://{HOST}:{self.port}{path}"

    def __enter__(self) -> LocalHttpServer:
        self._server = ThreadingHTTPServer((HOST, self._requested_port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = self._thread = None
