"""`channels.yaml`: transports (endpoints from the environment) and the caps shared by all journeys."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from journey_compiler.config.base import Duration, StrictModel

ChannelName = Literal["email", "sms", "whatsapp", "webhook", "push"]


class _Delivery(StrictModel):
    """What every transport shares: pace, parallelism, how long a message stays worth sending, callbacks."""

    rate_per_second: float | None = Field(None, gt=0)
    concurrency: int = Field(
        16, ge=1, le=256, description="Requests (or SMTP connections) in flight at once."
    )
    expire_after: Duration | None = Field(
        None, description="A message still unsent this long after it was due is `expired`, not sent late."
    )
    callback_secret_env: str | None = Field(
        None, description="Environment variable holding the HMAC key of this provider's status callbacks."
    )


class SmtpChannel(_Delivery):
    kind: Literal["smtp"]
    host: str
    port: int = 25
    sender: str
    username_env: str | None = None
    password_env: str | None = None
    starttls: bool = False
    concurrency: int = Field(4, ge=1, le=32, description="SMTP connections kept open and reused.")


class _HttpDelivery(_Delivery):
    url: str
    pipeline: int = Field(
        1,
        ge=1,
        le=64,
        description="Requests one connection carries at once (HTTP/1.1 pipelining; 1 = none). Only for "
        "providers known to answer pipelined requests in order; `concurrency` stays the total in flight.",
    )


class HttpChannel(_HttpDelivery):
    """SMS, WhatsApp and push providers: a JSON POST with a bearer token from the environment."""

    kind: Literal["http_sms", "whatsapp_cloud", "http_push"]
    token_env: str | None = None


class WebhookChannel(_HttpDelivery):
    kind: Literal["webhook"]
    secret_env: str | None = None


Channel = Annotated[SmtpChannel | HttpChannel | WebhookChannel, Field(discriminator="kind")]


class FrequencyCap(StrictModel):
    max: int = Field(ge=0)
    per: Duration


class ChannelsConfig(StrictModel):
    channels: dict[ChannelName, Channel] = {}
    frequency_caps: dict[ChannelName, FrequencyCap] = {}
    cap_whitelist: str | None = None
