"""A small SMTP client on asyncio: one session per connection, reused for every email it carries.

Why not `smtplib`: it is blocking (a thread per connection, and the GIL between them and the dispatch's
event loop) and waits for a reply after every command, four round trips per email. Here, when the server
offers PIPELINING (RFC 2920, nearly all do), `MAIL FROM`, `RCPT TO` and `DATA` leave in one write and the
content in a second: two round trips per email. Without it the commands go one at a time.

STARTTLS (certificates verified against the host name) and AUTH PLAIN / LOGIN are supported. A reply is
raised as `SmtpReplyError` with its code; the transport (`channel_senders.smtp`) decides what it means.
"""

from __future__ import annotations

import asyncio
import base64
import re
import socket
import ssl
from typing import NamedTuple

_DOT_AT_LINE_START = re.compile(rb"(?m)^\.")


class SmtpReply(NamedTuple):
    code: int
    text: str


class SmtpReplyError(Exception):
    """The server answered with an unexpected code; `rcpt` marks a refused recipient."""

    def __init__(self, reply: SmtpReply, *, rcpt: bool = False, auth: bool = False) -> None:
        super().__init__(f"SMTP {reply.code}: {reply.text}")
        self.reply = reply
        self.rcpt = rcpt
        self.auth = auth


class SmtpSession:
    def __init__(
        self, host: str, port: int, *, starttls: bool = False, login: tuple[str, str] | None = None
    ) -> None:
        self._host = host
        self._port = port
        self._starttls = starttls
        self._login = login
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pipelining = False

    @property
    def open(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    async def connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        await self._expect(220)
        extensions = await self._ehlo()
        if self._starttls:
            if "STARTTLS" not in extensions:
                raise SmtpReplyError(SmtpReply(0, "the server does not offer STARTTLS"))
            await self._command(b"STARTTLS", 220)
            await self._writer.start_tls(ssl.create_default_context(), server_hostname=self._host)
            extensions = await self._ehlo()
        if self._login is not None:
            await self._authenticate(extensions.get("AUTH", "").upper().split())
        self._pipelining = "PIPELINING" in extensions

    async def send(self, mail_from: str, to: str, content: bytes) -> SmtpReply:
        """Deliver one email (`content`: the message with CRLF line ends); the server's final reply."""
        commands = [f"MAIL FROM:<{mail_from}>".encode(), f"RCPT TO:<{to}>".encode(), b"DATA"]
        if self._pipelining:
            self._write(b"\r\n".join(commands) + b"\r\n")
            replies = [await self._reply() for _ in commands]
        else:
            replies = []
            for command in commands:
                self._write(command + b"\r\n")
                replies.append(await self._reply())
                if replies[-1].code >= 400:
                    break
        mail, *rest = replies
        rcpt = rest[0] if rest else None
        data = rest[1] if len(rest) > 1 else None
        if data is not None and data.code == 354 and (mail.code != 250 or rcpt is None or rcpt.code >= 300):
            self._write(b".\r\n")  # a server that took DATA anyway gets an empty message ended at once
            await self._reply()
        if mail.code != 250:
            await self._reset()
            raise SmtpReplyError(mail)
        if rcpt is None or rcpt.code not in (250, 251):
            await self._reset()
            raise SmtpReplyError(rcpt or mail, rcpt=True)
        if data is None or data.code != 354:
            await self._reset()
            raise SmtpReplyError(data or rcpt)
        if not content.endswith(b"\r\n"):
            content += b"\r\n"
        self._write(_DOT_AT_LINE_START.sub(b"..", content) + b".\r\n")
        assert self._writer is not None
        await self._writer.drain()
        final = await self._reply()
        if final.code != 250:
            raise SmtpReplyError(final)
        return final

    async def close(self) -> None:
        if self._writer is None:
            return
        writer, self._writer = self._writer, None
        try:
            if not writer.is_closing():
                writer.write(b"QUIT\r\n")
                await asyncio.wait_for(writer.drain(), 1.0)
        except (OSError, TimeoutError):
            pass
        writer.close()

    def abort(self) -> None:
        """Drop the connection without a goodbye (after an error: its state is unknown)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def _ehlo(self) -> dict[str, str]:
        reply = await self._command(f"EHLO {socket.gethostname()}".encode(), 250)
        extensions = {}
        for line in reply.text.split("\n")[1:]:
            keyword, _, value = line.partition(" ")
            extensions[keyword.upper()] = value
        return extensions

    async def _authenticate(self, mechanisms: list[str]) -> None:
        assert self._login is not None
        username, password = self._login

        def b64(text: str) -> bytes:
            return base64.b64encode(text.encode())

        try:
            if "PLAIN" in mechanisms or "LOGIN" not in mechanisms:
                await self._command(b"AUTH PLAIN " + b64(f"\0{username}\0{password}"), 235)
            else:
                await self._command(b"AUTH LOGIN", 334)
                await self._command(b64(username), 334)
                await self._command(b64(password), 235)
        except SmtpReplyError as error:
            raise SmtpReplyError(error.reply, auth=True) from error

    async def _reset(self) -> None:
        await self._command(b"RSET", 250)

    async def _command(self, line: bytes, expected: int) -> SmtpReply:
        self._write(line + b"\r\n")
        return await self._expect(expected)

    async def _expect(self, expected: int) -> SmtpReply:
        reply = await self._reply()
        if reply.code != expected:
            raise SmtpReplyError(reply)
        return reply

    def _write(self, data: bytes) -> None:
        assert self._writer is not None, "connect first"
        self._writer.write(data)

    async def _reply(self) -> SmtpReply:
        """One reply, multi-line replies (`250-...`) joined with newlines."""
        assert self._reader is not None, "connect first"
        lines = []
        while True:
            line = await self._reader.readline()
            if not line:
                raise ConnectionError("the SMTP server closed the connection")
            text = line.decode("utf-8", errors="replace").rstrip("\r\n")
            if len(text) < 3 or not text[:3].isdigit():
                raise ConnectionError(f"not an SMTP reply: {text[:60]!r}")
            lines.append(text[4:])
            if text[3:4] != "-":
                return SmtpReply(int(text[:3]), "\n".join(lines))
