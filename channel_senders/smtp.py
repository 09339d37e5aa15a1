"""Email over SMTP: a small pool of connections, each opened once and reused for every message it carries.

`smtplib` is blocking, so each pooled connection is driven from a worker thread of its own while the
dispatch's event loop renders and prepares the next emails. SMTP has no idempotency key, so the `Message-ID`
header is derived from the outbox `message_id`: a message sent again after a crash carries the same
Message-ID, which mail stores use to drop the copy. Reply codes 4xx are temporary, 5xx permanent; a lost or
refused connection is temporary and the connection is reopened on the next attempt.
"""

from __future__ import annotations

import asyncio
import smtplib
from concurrent.futures import ThreadPoolExecutor
from email.charset import QP, Charset
from email.header import Header
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formatdate, parseaddr

from channel_senders.protocol import (
    OutgoingMessage,
    PermanentFailure,
    SendFailure,
    SendResult,
    TemporaryFailure,
    env_secret,
)
from journey_compiler.config.channels import SmtpChannel

_TIMEOUT_SECONDS = 10.0
_UTF8 = Charset("utf-8")
_UTF8.body_encoding = QP  # readable in transit, safe for any text
_WIRE = compat32.clone(linesep="\r\n")
"""The legacy email API: several times faster than `policy.default` (whose header objects dominated the
cost of a send), and all a plain-text email needs."""


def message_id_header(message_id: str, sender: str) -> str:
    domain = parseaddr(sender)[1].rpartition("@")[2] or "journeys.invalid"
    return f"<{message_id}@{domain}>"


def _by_code(code: int, reason: str) -> SendFailure:
    return PermanentFailure(reason) if 500 <= code < 600 else TemporaryFailure(reason)


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


class _Connection:
    """One SMTP session, opened lazily, closed after a temporary failure so the next try starts fresh."""

    def __init__(self, channel: SmtpChannel, login: tuple[str | None, str | None]) -> None:
        self._channel = channel
        self._login = login
        self._smtp: smtplib.SMTP | None = None

    def send(self, mail_from: str, to: str, data: bytes, message_id: str) -> SendResult:
        try:
            self._open().sendmail(mail_from, [to], data)
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = next(iter(error.recipients.values()))
            failure = _by_code(code, f"SMTP {code} for {to}: {_text(reply)}")
        except smtplib.SMTPResponseException as error:
            failure = _by_code(error.smtp_code, f"SMTP {error.smtp_code}: {_text(error.smtp_error)}")
        except (smtplib.SMTPException, OSError) as error:
            where = f"{self._channel.host}:{self._channel.port}"
            reason = f"SMTP connection to {where}: {error or type(error).__name__}"
            failure = TemporaryFailure(reason, unreachable=True)
        else:
            return SendResult("sent", f"SMTP accepted {message_id}")
        if isinstance(failure, TemporaryFailure):
            self.close()
        raise failure

    def _open(self) -> smtplib.SMTP:
        if self._smtp is None:
            smtp = smtplib.SMTP(self._channel.host, self._channel.port, timeout=_TIMEOUT_SECONDS)
            try:
                if self._channel.starttls:
                    smtp.starttls()
                username, password = self._login
                if username and password:
                    smtp.login(username, password)
            except BaseException:
                smtp.close()
                raise
            self._smtp = smtp
        return self._smtp

    def close(self) -> None:
        if self._smtp is not None:
            smtp, self._smtp = self._smtp, None
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()


class SmtpTransport:
    def __init__(self, channel: SmtpChannel) -> None:
        self._channel = channel
        login = (env_secret(channel.username_env), env_secret(channel.password_env))
        self._mail_from = parseaddr(channel.sender)[1] or channel.sender
        self._idle = [_Connection(channel, login) for _ in range(channel.concurrency)]
        self._free = asyncio.Semaphore(channel.concurrency)
        self._threads = ThreadPoolExecutor(channel.concurrency, thread_name_prefix="smtp")

    def _email(self, message: OutgoingMessage) -> tuple[bytes, str]:
        body = message.content.body
        if not isinstance(body, str):
            raise PermanentFailure("an email template needs a text body")
        subject = message.content.subject or ""
        email = MIMEText(body, "plain", _UTF8)  # type: ignore[arg-type]
        email["From"] = self._channel.sender
        email["To"] = message.to
        email["Subject"] = subject if subject.isascii() else Header(subject, "utf-8")
        email["Date"] = formatdate(usegmt=True)
        email["Message-ID"] = message_id = message_id_header(message.message_id, self._channel.sender)
        return email.as_bytes(policy=_WIRE), message_id

    async def send(self, message: OutgoingMessage) -> SendResult:
        data, message_id = self._email(message)
        async with self._free:
            connection = self._idle.pop()
            try:
                return await asyncio.get_running_loop().run_in_executor(
                    self._threads, connection.send, self._mail_from, message.to, data, message_id
                )
            finally:
                self._idle.append(connection)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._threads, c.close) for c in self._idle))
        self._threads.shutdown(wait=False)
