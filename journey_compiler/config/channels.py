"""`channels.yaml`: transports (endpoints from the environment) and the caps shared by all journeys."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from journey_compiler.config.base import Duration, StrictModel

ChannelName = Literal["email", "sms", "whatsapp", "webhook", "push"]


class SmtpChannel(StrictModel):
    kind: Literal["smtp"]
    host: str
    port: int = 25
    sender: str
    username_env: str | None = None
    password_env: str | None = None
    starttls: bool = False
    rate_per_second: float | None = Field(None, gt=0)


class HttpChannel(StrictModel):
    """SMS, WhatsApp and push providers: a JSON POST with a bearer token from the environment."""

    kind: Literal["http_sms", "whatsapp_cloud", "http_push"]
    url: str
    token_env: str | None = None
    rate_per_second: float | None = Field(None, gt=0)


class WebhookChannel(StrictModel):
    kind: Literal["webhook"]
    url: str
    secret_env: str | None = None
    rate_per_second: float | None = Field(None, gt=0)


Channel = Annotated[SmtpChannel | HttpChannel | WebhookChannel, Field(discriminator="kind")]


class FrequencyCap(StrictModel):
    max: int = Field(ge=0)
    per: Duration


class ChannelsConfig(StrictModel):
    channels: dict[ChannelName, Channel] = {}
    frequency_caps: dict[ChannelName, FrequencyCap] = {}
    cap_whitelist: str | None = None
