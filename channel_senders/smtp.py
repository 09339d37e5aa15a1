"""Email over SMTP: one connection per dispatch, reused for every message of the batch.

SMTP has no idempotency key, so the `Message-ID` header is derived from the outbox `message_id`: a message
sent again after a crash carries the same Message-ID, which mail stores use to drop the copy. Reply codes
4xx are temporary, 5xx permanent; a lost connection is temporary and is reopened on the next attempt.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
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


def message_id_header(message_id: str, sender: str) -> str:
    domain = parseaddr(sender)[1].rpartition("@")[2] or "journeys.invalid"
    return f"<{message_id}@{domain}>"


def _by_code(code: int, reason: str) -> SendFailure:
    return PermanentFailure(reason) if 500 <= code < 600 else TemporaryFailure(reason)


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


class SmtpTransport:
    def __init__(self, channel: SmtpChannel) -> None:
        self._channel = channel
        self._login = (env_secret(channel.username_env), env_secret(channel.password_env))
        self._smtp: smtplib.SMTP | None = None

    def _connection(self) -> smtplib.SMTP:
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

    def _email(self, message: OutgoingMessage) -> EmailMessage:
        body = message.content.body
        if not isinstance(body, str):
            raise PermanentFailure("an email template needs a text body")
        email = EmailMessage()
        email["From"] = self._channel.sender
        email["To"] = message.to
        email["Subject"] = message.content.subject or ""
        email["Date"] = formatdate(usegmt=True)
        email["Message-ID"] = message_id_header(message.message_id, self._channel.sender)
        email.set_content(body)
        return email

    def send(self, message: OutgoingMessage) -> SendResult:
        email = self._email(message)
        try:
            self._connection().send_message(email)
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = next(iter(error.recipients.values()))
            failure = _by_code(code, f"SMTP {code} for {message.to}: {_text(reply)}")
        except smtplib.SMTPResponseException as error:
            failure = _by_code(error.smtp_code, f"SMTP {error.smtp_code}: {_text(error.smtp_error)}")
        except (smtplib.SMTPException, OSError) as error:
            where = f"{self._channel.host}:{self._channel.port}"
            failure = TemporaryFailure(f"SMTP connection to {where}: {error or type(error).__name__}")
        else:
            return SendResult("sent", f"SMTP accepted {email['Message-ID']}")
        if isinstance(failure, TemporaryFailure):
            self.close()  # the next attempt starts on a fresh connection
        raise failure

    def close(self) -> None:
        if self._smtp is not None:
            smtp, self._smtp = self._smtp, None
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
