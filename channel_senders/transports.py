"""Which transport serves a configured channel: one table keyed by the `kind` in channels.yaml."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from channel_senders.http_api import http_api_transport
from channel_senders.protocol import ChannelUnavailable, Transport
from channel_senders.smtp import SmtpTransport
from channel_senders.webhook import webhook_transport
from journey_compiler.config.channels import Channel

_BY_KIND: dict[str, Callable[[Any], Transport]] = {
    "smtp": SmtpTransport,
    "webhook": webhook_transport,
    "http_sms": http_api_transport,
    "whatsapp_cloud": http_api_transport,
    "http_push": http_api_transport,
}


def open_transport(name: str, config: Channel) -> Transport:
    """The transport for channel `name`, or `ChannelUnavailable` saying what to fix (e.g. an env var).

    Call it inside the dispatch's event loop: transports hold loop-bound pools."""
    try:
        return _BY_KIND[config.kind](config)
    except ChannelUnavailable as error:
        raise ChannelUnavailable(f"channel {name!r}: {error}") from error
    except ValueError as error:  # e.g. a URL that is not http(s)
        raise ChannelUnavailable(f"channel {name!r}: {error}") from error
