"""A plain-text email as the bytes SMTP carries: headers, then the body in quoted-printable UTF-8.

Built by hand rather than with the `email` package: `MIMEText(...).as_bytes()` cost about 800 µs per email
on this machine (four times everything else a dispatch does for a message); these few lines do the same
for a plain-text email in a few µs, with `binascii`'s C encoder for the body. Header values come from
templates and profile data, so a line break in one never starts a new header: in the subject it becomes a
space, in an address it fails the message.
"""

from __future__ import annotations

import binascii
from email.header import Header
from email.utils import formataddr, formatdate, parseaddr

from channel_senders.protocol import PermanentFailure

_FIXED = (
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: text/plain; charset="utf-8"\r\n'
    b"Content-Transfer-Encoding: quoted-printable\r\n"
)


def message_id_domain(sender: str) -> str:
    """The right-hand side of our Message-IDs: the sender's domain."""
    return parseaddr(sender)[1].rpartition("@")[2] or "journeys.invalid"


def from_header(sender: str) -> str:
    """`sender` as a From header value, its display name RFC 2047-encoded when it is not ASCII."""
    name, address = parseaddr(sender)
    return formataddr((name, address or sender), charset="utf-8")


def encode_subject(subject: str) -> str:
    subject = " ".join(subject.splitlines())
    return subject if subject.isascii() else Header(subject, "utf-8").encode()


def plain_email(*, sender: str, to: str, subject: str, body: str, message_id: str) -> bytes:
    """`sender` as `from_header` made it; CRLF line ends throughout, as SMTP wants them."""
    if "\r" in to or "\n" in to:
        raise PermanentFailure(f"the address {to!r} holds a line break")
    lines = "\r\n".join(body.splitlines())
    text = binascii.b2a_qp((lines + "\r\n").encode(), istext=True)  # keeps the CRLF line ends it is given
    head = (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {encode_subject(subject)}\r\n"
        f"Date: {formatdate(usegmt=True)}\r\nMessage-ID: {message_id}\r\n"
    )
    return head.encode() + _FIXED + b"\r\n" + text
