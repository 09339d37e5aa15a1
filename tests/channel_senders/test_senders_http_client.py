"""The keep-alive HTTP client against a scripted server on 127.0.0.1: answers in order (pipelined too),
chunked bodies, servers that close connections, and timeouts that are not repeated."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from channel_senders.http_client import HttpError, HttpPool

Script = Callable[[int, bytes], Awaitable[bytes | None]]
"""(request number on its connection, the Idempotency-Key) -> the raw answer; None closes the connection."""


class ScriptedServer:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests: list[bytes] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = 0
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                fields = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:] if b": " in line)
                await reader.readexactly(int(fields[b"Content-Length"]))
                key = fields[b"Idempotency-Key"]
                self.requests.append(key)
                number += 1
                answer = await self.script(number, key)
                if answer is None:
                    break
                writer.write(answer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


def _answer(key: bytes, *, chunked: bool = False, close: bool = False) -> bytes:
    extra = b"Connection: close\r\n" if close else b""
    if chunked:
        half = len(key) // 2
        chunks = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (half, key[:half], len(key) - half, key[half:])
        return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n" + extra + b"\r\n" + chunks
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(key), extra, key)


async def _posts(script: Script, count: int, **pool: object) -> tuple[list[bytes], ScriptedServer]:
    server = ScriptedServer(script)
    listener = await asyncio.start_server(server._serve, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    client = HttpPool(f"http://127.0.0.1:{port}/hook", **pool)  # type: ignore[arg-type]
    try:
        answers = await asyncio.gather(
            *(client.post(b"{}", {"Idempotency-Key": f"m{i}"}) for i in range(count))
        )
    finally:
        await client.close()
        listener.close()
    return [a.body for a in answers], server


def test_pipelined_answers_reach_their_own_requests() -> None:
    async def script(number: int, key: bytes) -> bytes:
        return _answer(key, chunked=number % 2 == 0)

    bodies, server = asyncio.run(_posts(script, 40, size=8, pipeline=8))
    assert bodies == [f"m{i}".encode() for i in range(40)]
    assert server.connections == 1


def test_without_pipelining_each_request_has_a_connection_of_its_own() -> None:
    async def script(number: int, key: bytes) -> bytes:
        await asyncio.sleep(0.01)  # keeps every connection busy, so none is shared
        return _answer(key)

    bodies, server = asyncio.run(_posts(script, 8, size=4))
    assert bodies == [f"m{i}".encode() for i in range(8)]
    assert server.connections == 4


@pytest.mark.parametrize("pipeline", [1, 4])
def test_servers_that_close_connections_lose_no_request(pipeline: int) -> None:
    """`Connection: close` after every second answer, and a bare close after the third request."""

    async def script(number: int, key: bytes) -> bytes | None:
        if number == 3:
            return None
        return _answer(key, close=number == 2)

    bodies, server = asyncio.run(_posts(script, 12, size=4, pipeline=pipeline))
    assert bodies == [f"m{i}".encode() for i in range(12)]
    assert server.connections > 1


def test_a_timeout_is_reported_and_not_repeated() -> None:
    async def script(number: int, key: bytes) -> bytes:
        await asyncio.sleep(5)
        return _answer(key)

    with pytest.raises(HttpError, match="timeout after 0.2 s"):
        asyncio.run(_posts(script, 1, size=1, timeout=0.2))
