"""Real receivers on 127.0.0.1 for tests and the demo: an SMTP server and an HTTP server that record traffic.

Both pick a free port themselves (or take `port`, e.g. the defaults of the example channels.yaml: SMTP 2525,
HTTP 8025), start and stop in well under a second, and are context managers. Each can be told to answer its
first requests with an error (`first_replies`, `first_statuses`) to exercise retries.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, Generic, Self, TypeVar

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

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
    headers: Headers
    body: bytes
    status: int
    """What the server answered."""
    at: float
    """`time.monotonic()` when it arrived: rate limits are checked on these."""

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

    def __init__(
        self,
        first_replies: Sequence[str] = (),
        port: int = 0,
        keep: bool = True,
        logins: dict[str, str] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.received: list[ReceivedEmail] = []
        self._tls = tls
        """A server certificate: STARTTLS is offered, and required before any email."""
        self._logins = logins
        """username -> password: AUTH is offered (over plain TCP, as on loopback only) and required."""
        self.count = 0
        """Emails accepted (also when `keep` is off, for load tests that only count)."""
        self._keep = keep
        self._replies = _Replies(first_replies, "250 OK")
        self._requested_port = port
        self._controller: Controller | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        reply = self._replies.next()
        if reply.startswith("250"):
            self.count += 1
        if reply.startswith("250") and self._keep:
            content = envelope.content if isinstance(envelope.content, bytes) else b""
            # SMTP carries CRLF line ends; store the email as the template wrote it, with plain newlines
            parsed = message_from_bytes(content.replace(b"\r\n", b"\n"), policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            self.received.append(
                ReceivedEmail(str(envelope.mail_from), list(envelope.rcpt_tos), parsed, session.peer)
            )
        return reply

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert self._logins is not None
        login = data if isinstance(data, LoginPassword) else None
        ok = login is not None and self._logins.get(login.login.decode()) == login.password.decode()
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    @property
    def port(self) -> int:
        assert self._controller is not None, "start the server first: `with LocalSmtpServer() as server:`"
        return int(self._controller.port)

    def __enter__(self) -> LocalSmtpServer:
        options: dict[str, Any] = {}
        if self._logins is not None:
            options = {"authenticator": self._authenticate, "auth_require_tls": False, "auth_required": True}
        if self._tls is not None:
            options |= {"tls_context": self._tls, "require_starttls": True}
        self._controller = _FreePortController(self, hostname=HOST, port=self._requested_port, **options)
        self._controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        assert self._controller is not None
        self._controller.stop()
        self._controller = None


class Headers(dict[str, str]):
    """Header names looked up case-insensitively, as HTTP header names are."""

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())


Reply = int | tuple[int, dict[str, str]]
"""A scripted answer: a status, or a status with extra headers (e.g. `(429, {"Retry-After": "120"})`)."""


class _ThreadedServer:
    """An asyncio server on a thread of its own, so a test or bench in the foreground can drive it."""

    def __init__(self, port: int) -> None:
        self._requested_port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self.connections: set[asyncio.Transport] = set()

    def protocol(self) -> asyncio.Protocol:
        raise NotImplementedError

    @property
    def port(self) -> int:
        assert self._server is not None, f"start the server first: `with {type(self).__name__}() as server:`"
        return int(self._server.sockets[0].getsockname()[1])

    def __enter__(self) -> Self:
        self._loop = asyncio.new_event_loop()
        self._server = self._loop.run_until_complete(
            self._loop.create_server(self.protocol, HOST, self._requested_port)
        )
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        assert self._loop is not None and self._server is not None and self._thread is not None
        loop, server = self._loop, self._server

        async def stop() -> None:
            server.close()
            for connection in list(self.connections):
                connection.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join()
        loop.close()
        self._server = self._thread = self._loop = None


class _Connection(asyncio.Protocol):
    """Keeps its server's set of open connections, which are closed when the server stops."""

    def __init__(self, server: _ThreadedServer) -> None:
        self._server = server
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._server.connections.add(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._server.connections.discard(self._transport)


class _HttpProtocol(_Connection):
    """HTTP/1.1 with keep-alive and Content-Length bodies: just what the senders (and load tests) speak."""

    _server: LocalHttpServer

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        answers = []  # pipelined requests are answered in one write, in order
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            head = self._buffer[:end].decode("latin-1").split("\r\n")
            headers = Headers()
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            size = int(headers.get("content-length") or 0)
            if len(self._buffer) < end + 4 + size:
                break
            body = self._buffer[end + 4 : end + 4 + size]
            self._buffer = self._buffer[end + 4 + size :]
            path = head[0].split(" ")[1] if " " in head[0] else "/"
            answers.append(self._server._answer(path, headers, body))
        if answers:
            assert self._transport is not None
            self._transport.write(b"".join(answers))


class LocalHttpServer(_ThreadedServer):
    """Answers every POST with 200 `{"ok": true}` (after the scripted `first_statuses`) and keeps it.

    Thousands of requests a second over keep-alive connections (pipelined ones too), so a load test
    measures the sender, not the receiver."""

    def __init__(self, first_statuses: Sequence[Reply] = (), port: int = 0, keep: bool = True) -> None:
        super().__init__(port)
        self.received: list[ReceivedRequest] = []
        self.count = 0
        """Requests answered (also when `keep` is off, for load tests that only count)."""
        self._statuses = _Replies(first_statuses, 200)
        self._keep = keep

    def protocol(self) -> asyncio.Protocol:
        return _HttpProtocol(self)

    def _answer(self, path: str, headers: Headers, body: bytes) -> bytes:
        reply = self._statuses.next()
        status, extra = reply if isinstance(reply, tuple) else (reply, {})
        self.count += 1
        if self._keep:
            self.received.append(ReceivedRequest(path, headers, body, status, time.monotonic()))
        answer = b'{"ok": true}' if status < 400 else b'{"ok": false}'
        lines = [f"HTTP/1.1 {status} {'OK' if status < 400 else 'Error'}", "Content-Type: application/json"]
        lines += [f"{name}: {value}" for name, value in extra.items()]
        lines.append(f"Content-Length: {len(answer)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + answer

    def url(self, path: str = "/") -> str:
        return f"http://{HOST}:{self.port}{path}"


class _SinkProtocol(_Connection):
    """The server side of SMTP, minimally: every command accepted, every email counted, then forgotten."""

    _server: SmtpSink

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._in_data = False
        assert self._transport is not None
        self._transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        replies = []  # pipelined commands are answered in one write, in order
        while True:
            if self._in_data:
                end = self._buffer.find(b"\r\n.\r\n")
                if end < 0:
                    break
                self._buffer, self._in_data = self._buffer[end + 5 :], False
                self._server.count += 1
                replies.append(b"250 OK queued\r\n")
                continue
            end = self._buffer.find(b"\r\n")
            if end < 0:
                break
            verb = self._buffer[:4].upper()
            self._buffer = self._buffer[end + 2 :]
            replies.append(_SINK_REPLIES.get(verb, b"250 OK\r\n"))
            if verb == b"DATA":
                self._in_data = True
                self._buffer = b"\r\n" + self._buffer  # the end marker may follow at once
            elif verb == b"QUIT":
                break
        if replies:
            assert self._transport is not None
            self._transport.write(b"".join(replies))
            if replies[-1].startswith(b"221"):
                self._transport.close()


_SINK_REPLIES = {
    b"EHLO": b"250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
    b"DATA": b"354 end with <CRLF>.<CRLF>\r\n",
    b"QUIT": b"221 bye\r\n",
}


class SmtpSink(_ThreadedServer):
    """An SMTP receiver that only counts, with PIPELINING: for benchmarks, to measure the sender.

    `LocalSmtpServer` (aiosmtpd) is the reference implementation the tests check emails against; it does a
    few hundred emails a second on this machine, which would cap any figure of ours."""

    def __init__(self, port: int = 0) -> None:
        super().__init__(port)
        self.count = 0
        """Emails accepted."""

    def protocol(self) -> asyncio.Protocol:
        return _SinkProtocol(self)
