"""SMS, WhatsApp Cloud and push providers: a JSON POST with a bearer token; one small body per kind."""

from __future__ import annotations

from typing import Any

from channel_senders.http_post import Encode, JsonPostTransport
from channel_senders.protocol import OutgoingMessage, env_secret
from journey_compiler.config.channels import HttpChannel


def _sms(message: OutgoingMessage) -> dict[str, Any]:
    return {"to": message.to, "text": message.content.body}


def _whatsapp(message: OutgoingMessage) -> dict[str, Any]:
    """WhatsApp Cloud API: an approved template, its language and the rendered body parameters."""
    content = message.content
    return {
        "messaging_product": "whatsapp",
        "to": message.to,
        "type": "template",
        # echoed back in the status webhooks, so a callback names our message (see channel_senders.callbacks)
        "biz_opaque_callback_data": message.message_id,
        "template": {
            "name": content.template_name,
            "language": {"code": content.language},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": p} for p in content.parameters]},
            ],
        },
    }


def _push(message: OutgoingMessage) -> dict[str, Any]:
    """Push providers address a user id; they map it to the devices registered for it."""
    return {"to": message.to, "title": message.content.title, "body": message.content.body}


BODIES: dict[str, Encode] = {"http_sms": _sms, "whatsapp_cloud": _whatsapp, "http_push": _push}


def http_api_transport(channel: HttpChannel) -> JsonPostTransport:
    token = env_secret(channel.token_env)

    def sign(body: bytes) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"} if token else {}

    return JsonPostTransport(
        channel.url, BODIES[channel.kind], sign, concurrency=channel.concurrency, pipeline=channel.pipeline
    )
