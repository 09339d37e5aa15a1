"""A small HTTP/1.1 client for JSON POSTs: a pool of keep-alive connections to one origin, on asyncio.

Why not httpx: measured on this project's 2-core machine, httpx's async client tops out near 500 requests/s
and httpcore's near 1,500 (most of it per-request bookkeeping), far below what one dispatch must push through.
A provider POST needs little of HTTP: one request line, a few headers, a body; an answer with
`Content-Length` or chunked encoding. This module does exactly that, over plain TCP or TLS (`https`,
certificates verified), reusing each connection until the server closes it. A connection that went stale
while idle is retried once on a fresh one (the request carries its idempotency key, so a repeat is safe).

Each connection is an `asyncio.Protocol` that parses answers straight from the bytes it receives: no
stream reader, no task and no timeout context per request (a stream-based version of this client spent
more time in asyncio's line reading than in the socket calls). By default one request is in flight per
connection; a channel may allow HTTP/1.1 pipelining (`pipeline` in channels.yaml) for a provider known to
answer it, which sends several requests per system call.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

CONNECT_TIMEOUT = 5.0
REQUEST_TIMEOUT = 10.0
_MAX_HEAD = 65536


class HttpError(Exception):
    """The exchange failed below HTTP (connect, TLS, timeout, a malformed or cut answer)."""


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: dict[str, str]
    """Lower-case names."""
    body: bytes


class _Connection(asyncio.Protocol):
    """One keep-alive connection carrying up to `pipeline` requests at once; answers come back in order.

    Requests issued in the same turn of the event loop leave in one write (one `send` system call for
    several requests: on loopback and busy machines the call, not the bytes, is the cost)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._outgoing: list[bytes] = []
        self._waiting: deque[tuple[asyncio.Future[tuple[HttpAnswer, bool]], asyncio.TimerHandle]] = deque()
        self.closed = False
        self.listed = False
        """In its pool's list of connections with room."""
        self.used = False
        """An answer came back on it: a failure afterwards may be a keep-alive the server let go."""

    @property
    def in_flight(self) -> int:
        return len(self._waiting)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._answers(eof=False)

    def eof_received(self) -> bool:
        self._answers(eof=True)
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._answers(eof=True)
        self._fail(exc or EOFError("connection closed before an answer"))

    def _answers(self, eof: bool) -> None:
        while self._waiting:
            try:
                parsed = parse_answer(self._buffer, eof)
            except (ValueError, EOFError) as error:
                self._fail(error)
                self.close()
                return
            if parsed is None:
                return
            answer, reusable, consumed = parsed
            del self._buffer[:consumed]
            self.used = True
            waiting, timer = self._waiting.popleft()
            timer.cancel()
            if not waiting.done():  # a request that was cancelled still has its answer
                waiting.set_result((answer, reusable))
            if not reusable:
                self.closed = True  # the rest of the pipeline fails and is tried again elsewhere
        if self._buffer and not self.closed:
            self.close()  # bytes nobody asked for: the connection cannot be trusted any more

    def _fail(self, error: BaseException) -> None:
        while self._waiting:
            waiting, timer = self._waiting.popleft()
            timer.cancel()
            if not waiting.done():
                waiting.set_exception(error)

    def _expire(self) -> None:
        self._fail(TimeoutError())
        self.close()

    def _flush(self) -> None:
        if self._transport is not None and self._outgoing and not self._transport.is_closing():
            self._transport.write(b"".join(self._outgoing))
        self._outgoing.clear()

    def request(self, request: bytes, timeout: float) -> asyncio.Future[tuple[HttpAnswer, bool]]:
        """Queue `request`; the future is (answer, whether the connection may carry more requests)."""
        if self.closed or self._transport is None:
            raise EOFError("connection closed while idle")
        waiting: asyncio.Future[tuple[HttpAnswer, bool]] = self._loop.create_future()
        self._waiting.append((waiting, self._loop.call_later(timeout, self._expire)))
        self._outgoing.append(request)
        if len(self._outgoing) == 1:
            self._loop.call_soon(self._flush)
        return waiting

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()


class HttpPool:
    """Up to `size` concurrent requests to `url`, over connections reused until the server closes them.

    `pipeline` is how many requests one connection carries at once (HTTP/1.1 pipelining; 1 = none), so
    `size / pipeline` connections are opened. Pipelining is for providers known to answer it in order; a
    repeat after a lost connection is safe because every request carries its idempotency key."""

    def __init__(
        self, url: str, *, size: int = 16, pipeline: int = 1, timeout: float = REQUEST_TIMEOUT
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.url = url
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._tls = ssl.create_default_context() if parts.scheme == "https" else None
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default_port = self._port == (443 if self._tls else 80)
        host_header = self._host if default_port else f"{self._host}:{self._port}"
        self._head = f"POST {target} HTTP/1.1\r\nHost: {host_header}\r\n"
        self._timeout = timeout
        self._slots = asyncio.Semaphore(size)
        self._pipeline = pipeline
        self._most = -(-size // pipeline)
        self._open: list[_Connection] = []
        self._connecting: set[asyncio.Future[_Connection]] = set()
        self._room: list[_Connection] = []
        """Open connections that may take another request, the most recently used last."""

    async def post(self, body: bytes, headers: dict[str, str]) -> HttpAnswer:
        request = self._request(body, headers)
        async with self._slots:
            for attempt in (1, 2):
                # the second try goes first on a fresh connection, so no pipeline can drop it again
                connection = await (self._connection() if attempt == 1 else self._connect())
                try:
                    answer = connection.request(request, self._timeout)
                    self._offer(connection)
                    answer, reusable = await answer
                except TimeoutError as error:  # before OSError, its base class: a timeout is not retried here
                    raise HttpError(f"timeout after {self._timeout:g} s posting to {self.url}") from error
                except (OSError, EOFError, ValueError) as error:
                    connection.close()
                    if connection.used and attempt == 1:
                        continue  # the server let a keep-alive connection go: once more, fresh
                    raise HttpError(f"{type(error).__name__} posting to {self.url}: {error}") from error
                if reusable:
                    self._offer(connection)
                else:
                    connection.close()
                return answer
        raise AssertionError("unreachable")

    def _offer(self, connection: _Connection) -> None:
        """Let other requests use `connection` while it has room."""
        if not connection.closed and not connection.listed and connection.in_flight < self._pipeline:
            connection.listed = True
            self._room.append(connection)

    async def _connection(self) -> _Connection:
        """The last connection offered that still has room; a new one while fewer than `size / pipeline`
        exist (the slots guarantee that one of the two is there, or is being opened)."""
        while True:
            while self._room:
                connection = self._room.pop()
                connection.listed = False
                if not connection.closed and connection.in_flight < self._pipeline:
                    return connection
            self._open = [c for c in self._open if not c.closed]
            if len(self._open) + len(self._connecting) < self._most or not self._connecting:
                opening = asyncio.ensure_future(self._connect())
                self._connecting.add(opening)
                opening.add_done_callback(self._connecting.discard)
                return await opening
            await asyncio.wait(self._connecting, return_when=asyncio.FIRST_COMPLETED)  # share it when up

    async def close(self) -> None:
        for connection in self._open:
            connection.close()
        self._open.clear()

    def _request(self, body: bytes, headers: dict[str, str]) -> bytes:
        lines = [self._head, f"Content-Length: {len(body)}\r\n"]
        for name, value in headers.items():
            if "\r" in value or "\n" in value:
                raise ValueError(f"header {name} holds a line break")
            lines.append(f"{name}: {value}\r\n")
        lines.append("\r\n")
        return "".join(lines).encode("latin-1") + body

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                _, connection = await loop.create_connection(
                    lambda: _Connection(loop), self._host, self._port, ssl=self._tls
                )
        except TimeoutError as error:
            raise HttpError(f"ConnectTimeout to {self.url} after {CONNECT_TIMEOUT:g} s") from error
        except (OSError, ssl.SSLError) as error:
            raise HttpError(f"ConnectError to {self.url}: {error}") from error
        self._open.append(connection)
        return connection


def parse_answer(data: bytearray, eof: bool) -> tuple[HttpAnswer, bool, int] | None:
    """The first complete answer in `data` (1xx interim answers skipped): (answer, reusable, bytes used).

    None while more bytes are needed; `EOFError` when the peer closed before the answer was complete."""
    start = 0
    while True:
        end = data.find(b"\r\n\r\n", start)
        if end < 0:
            if len(data) - start > _MAX_HEAD:
                raise ValueError(f"answer headers longer than {_MAX_HEAD} bytes")
            return _incomplete(eof, "inside the headers" if data else "before an answer")
        lines = bytes(data[start:end]).decode("latin-1").split("\r\n")
        version, status = _status_line(lines[0])
        headers = _headers(lines[1:])
        start = end + 4
        if not 100 <= status < 200:
            break
    connection = headers.get("connection", "").lower()
    close = connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunked = _chunked(data, start)
        if chunked is None:
            return _incomplete(eof, "inside a chunked body")
        body, stop = chunked
    elif "content-length" in headers:
        stop = start + int(headers["content-length"])
        if len(data) < stop:
            return _incomplete(eof, "inside the body")
        body = bytes(data[start:stop])
    elif status in (204, 304):
        body, stop = b"", start
    elif eof:
        body, stop, close = bytes(data[start:]), len(data), True
    else:
        return None  # the body runs until the server closes the connection
    return HttpAnswer(status, headers, body), not close, stop


def _incomplete(eof: bool, where: str) -> None:
    if eof:
        raise EOFError(f"connection closed {where}")
    return None


def _status_line(line: str) -> tuple[str, int]:
    version, _, rest = line.partition(" ")
    if not version.startswith("HTTP/1.") or not rest[:3].isdigit():
        raise ValueError(f"not an HTTP/1.x answer: {line[:60]!r}")
    return version, int(rest[:3])


def _headers(lines: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"malformed header line {line[:60]!r}")
        headers[name.strip().lower()] = value.strip()
    return headers


def _chunked(data: bytearray, position: int) -> tuple[bytes, int] | None:
    """(body, end) of a complete chunked body starting at `position`, or None while it is still arriving."""
    parts = []
    while True:
        eol = data.find(b"\r\n", position)
        if eol < 0:
            return None
        size = int(bytes(data[position:eol]).split(b";")[0].strip() or b"0", 16)
        position = eol + 2
        if size == 0:
            break
        if len(data) < position + size + 2:
            return None
        parts.append(bytes(data[position : position + size]))
        position += size + 2
    while True:  # trailers, up to the empty line
        eol = data.find(b"\r\n", position)
        if eol < 0:
            return None
        empty, position = eol == position, eol + 2
        if empty:
            return b"".join(parts), position
