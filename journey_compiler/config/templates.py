"""`templates/<name>.yaml`: one message template, rendered later in jinja2's sandbox."""

from __future__ import annotations

from typing import Any

from journey_compiler.config.base import StrictModel
from journey_compiler.config.channels import ChannelName


class Template(StrictModel):
    channel: ChannelName
    subject: str | None = None
    title: str | None = None
    body: str | dict[str, Any] | None = None
    template_name: str | None = None
    language: str | None = None
    parameters: list[str] = []
