"""Email over our SMTP client: the text arrives intact at aiosmtpd (the reference server), logins work and a
refused one defers instead of failing, STARTTLS verifies the certificate, a refused recipient fails alone,
and the pipelined path delivers everything to the bench's sink."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

from channel_senders.loopback import HOST, LocalSmtpServer, SmtpSink
from journey_compiler.config.templates import Template


def _email_channel(port: int, **extra: object) -> dict:
    return {
        "kind": "smtp",
        "host": HOST,
        "port": port,
        "sender": "Café Ünter <noreply@shop.example>",
        **extra,
    }


def test_the_text_survives_the_wire(dispatch, make_channels, enqueue, templates, http_server, now):
    """Non-ASCII subject and sender, a line break in the subject, a body line starting with a dot (SMTP's end
    marker unless stuffed), a line longer than quoted-printable's 76 characters, trailing spaces."""
    body = "Grüße!\n.hidden behind a dot\n" + "long " * 40 + "\n\ttabbed  \n\nbye"
    templates["tricky"] = Template(channel="email", subject="Grüße\naus Berlin", body=body)
    enqueue("m1", "email", "tricky")
    with LocalSmtpServer() as smtp:
        report = dispatch(make_channels(smtp, http_server, email=_email_channel(smtp.port)), now)

    assert report.counts == {("email", "sent"): 1}
    (email,) = smtp.received
    assert email.message["Subject"] == "Grüße aus Berlin"
    assert email.message["From"] == "Café Ünter <noreply@shop.example>"
    assert email.message["Message-ID"] == "<m1@shop.example>"
    assert email.message.get_content() == body + "\n"


def test_a_login_is_used_and_a_refused_one_defers(
    dispatch, make_channels, enqueue, http_server, now, outcomes, monkeypatch
):
    monkeypatch.setenv("SMTP_USER", "shop")
    enqueue("m1", "email", "welcome_email")
    login = {"username_env": "SMTP_USER", "password_env": "SMTP_PASSWORD"}
    with LocalSmtpServer(logins={"shop": "right"}) as smtp:
        channels = make_channels(smtp, http_server, email=_email_channel(smtp.port, **login))
        monkeypatch.setenv("SMTP_PASSWORD", "rotated")
        refused = dispatch(channels, now)
        monkeypatch.setenv("SMTP_PASSWORD", "right")
        later = dispatch(channels, now.replace(hour=12))

    assert refused.counts == {("email", "deferred"): 1}
    assert "SMTP login to 127.0.0.1" in refused.outages["email"] and "535" in refused.outages["email"]
    assert later.counts == {("email", "sent"): 1}
    assert outcomes()["m1"][0] == "sent"
    assert [e.rcpt_tos for e in smtp.received] == [["ada@example.com"]]


def test_pipelined_sessions_deliver_everything(
    dispatch, make_channels, enqueue, make_payload, http_server, now
):
    for i in range(60):
        enqueue(f"m{i:02}", "email", "welcome_email", make_payload(f"p{i}", email=f"p{i}@example.com"))
    with SmtpSink() as sink:
        report = dispatch(
            make_channels(None, http_server, email=_email_channel(sink.port, concurrency=3)), now
        )

    assert report.counts == {("email", "sent"): 60}
    assert sink.count == 60


class _RefusingNobody(LocalSmtpServer):
    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802, ANN001, ANN201
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_a_refused_recipient_fails_alone(
    dispatch, make_channels, enqueue, make_payload, http_server, now, outcomes
):
    enqueue("m1", "email", "welcome_email", make_payload("p1", email="nobody@example.com"), priority=1)
    enqueue("m2", "email", "welcome_email", make_payload("p2", email="bob@example.com"), priority=2)
    with _RefusingNobody() as smtp:
        channels = make_channels(smtp, http_server, email=_email_channel(smtp.port, concurrency=1))
        dispatch(channels, now)

    assert outcomes() == {
        "m1": ("failed", "SMTP 550 for nobody@example.com: 5.1.1 no such user"),
        "m2": ("sent", "SMTP accepted <m2@shop.example>"),
    }
    assert [e.rcpt_tos for e in smtp.received] == [["bob@example.com"]]


def _certificate(folder: Path) -> tuple[Path, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1, and the server context that presents it."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return cert, context


def test_starttls_verifies_the_certificate(
    dispatch, make_channels, enqueue, http_server, now, tmp_path, monkeypatch
):
    cert, context = _certificate(tmp_path)
    enqueue("m1", "email", "welcome_email")
    with LocalSmtpServer(tls=context) as smtp:
        channels = make_channels(smtp, http_server, email=_email_channel(smtp.port, starttls=True))
        untrusted = dispatch(channels, now)
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # where OpenSSL looks for trusted certificates
        trusted = dispatch(channels, now.replace(hour=12))

    assert untrusted.counts == {("email", "deferred"): 1}
    assert "certificate verify failed" in untrusted.outages["email"]
    assert trusted.counts == {("email", "sent"): 1}
    assert [e.rcpt_tos for e in smtp.received] == [["ada@example.com"]]
