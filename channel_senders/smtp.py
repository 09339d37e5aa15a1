"""Email over SMTP: a small pool of sessions, each opened once and reused for every message it carries.

The sessions are asyncio (`channel_senders.smtp_client`, pipelined where the server allows it), so the
dispatch's event loop renders and prepares the next emails while the pool waits for replies. SMTP has no
idempotency key, so the `Message-ID` header is derived from the outbox `message_id`: a message sent again
after a crash carries the same Message-ID, which mail stores use to drop the copy. Reply codes 4xx are
temporary, 5xx permanent; a lost or refused connection is a failure of the channel: temporary, and the
session is reopened on the next try. A refused login (a rotated password must not fail the whole queue)
defers the whole channel at once (`CredentialsRefused`).
"""

from __future__ import annotations

import asyncio
from email.utils import parseaddr

from channel_senders.email_message import from_header, message_id_domain, plain_email
from channel_senders.protocol import (
    CredentialsRefused,
    OutgoingMessage,
    PermanentFailure,
    SendFailure,
    SendResult,
    TemporaryFailure,
    env_secret,
)
from channel_senders.smtp_client import SmtpReplyError, SmtpSession
from journey_compiler.config.channels import SmtpChannel

_TIMEOUT_SECONDS = 10.0


class SmtpTransport:
    def __init__(self, channel: SmtpChannel) -> None:
        self._channel = channel
        username, password = env_secret(channel.username_env), env_secret(channel.password_env)
        login = (username, password) if username and password else None
        self._mail_from = parseaddr(channel.sender)[1] or channel.sender
        self._from = from_header(channel.sender)
        self._domain = message_id_domain(channel.sender)
        self._idle = [
            SmtpSession(channel.host, channel.port, starttls=channel.starttls, login=login)
            for _ in range(channel.concurrency)
        ]
        self._free = asyncio.Semaphore(channel.concurrency)

    def _email(self, message: OutgoingMessage) -> tuple[bytes, str]:
        body = message.content.body
        if not isinstance(body, str):
            raise PermanentFailure("an email template needs a text body")
        message_id = f"<{message.message_id}@{self._domain}>"
        email = plain_email(
            sender=self._from,
            to=message.to,
            subject=message.content.subject or "",
            body=body,
            message_id=message_id,
        )
        return email, message_id

    async def send(self, message: OutgoingMessage) -> SendResult:
        data, message_id = self._email(message)
        async with self._free:
            session = self._idle.pop()
            try:
                async with asyncio.timeout(_TIMEOUT_SECONDS):
                    if not session.open:
                        await session.connect()
                    await session.send(self._mail_from, message.to, data)
            except SmtpReplyError as error:
                failure = self._failure(error, message.to)
            except (OSError, EOFError, TimeoutError) as error:
                where = f"{self._channel.host}:{self._channel.port}"
                failure = TemporaryFailure(
                    f"SMTP connection to {where}: {str(error) or type(error).__name__}", unreachable=True
                )
            else:
                return SendResult("sent", f"SMTP accepted {message_id}")
            finally:
                self._idle.append(session)
            if isinstance(failure, TemporaryFailure | CredentialsRefused):
                session.abort()
            raise failure

    def _failure(self, error: SmtpReplyError, to: str) -> SendFailure:
        code, text = error.reply
        if error.auth:
            reason = f"SMTP login to {self._channel.host}:{self._channel.port} refused: {code} {text}"
            return CredentialsRefused(reason)
        reason = f"SMTP {code} for {to}: {text}" if error.rcpt else f"SMTP {code}: {text}"
        return PermanentFailure(reason) if 500 <= code < 600 else TemporaryFailure(reason)

    async def close(self) -> None:
        await asyncio.gather(*(session.close() for session in self._idle))
