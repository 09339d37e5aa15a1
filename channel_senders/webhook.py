"""Webhooks: the rendered body as JSON, signed so the receiver can prove it came from us.

`X-Journeys-Signature: sha256=<hex>` is the HMAC-SHA256 of the exact body bytes under the secret read from
the environment variable `secret_env`; receivers recompute it over the raw body before parsing it. The
status receiver (`channel_senders.receiver`) checks provider callbacks with the same function.
"""

from __future__ import annotations

import hashlib
import hmac

from channel_senders.http_post import JsonPostTransport
from channel_senders.protocol import OutgoingMessage, env_secret
from journey_compiler.config.channels import WebhookChannel

SIGNATURE_HEADER = "X-Journeys-Signature"


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(secret: str, body: bytes, header: str | None) -> bool:
    """Constant-time comparison, so the check leaks nothing about the expected value."""
    return header is not None and hmac.compare_digest(signature(secret, body), header.strip())


def webhook_transport(channel: WebhookChannel) -> JsonPostTransport:
    secret = env_secret(channel.secret_env)

    def sign(body: bytes) -> dict[str, str]:
        return {SIGNATURE_HEADER: signature(secret, body)} if secret else {}

    def encode(message: OutgoingMessage) -> object:
        return message.content.body

    return JsonPostTransport(
        channel.url, encode, sign, concurrency=channel.concurrency, pipeline=channel.pipeline
    )
