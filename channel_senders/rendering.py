"""Render a message template against one outbox payload, in jinja2's sandbox.

Templates are written by CRM users, so they run sandboxed and every failure (syntax, missing variable, an
exception inside an expression) fails only the message that used them, with a detail naming the template.
A missing variable is an error rather than an empty string, except where the template says what to do
instead: `{{ event.properties.channel | default('our site') }}` renders even when the message has no event.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from channel_senders.protocol import Content
from journey_compiler.config.templates import Template
from journey_compiler.errors import JourneysError


class RenderError(JourneysError):
    """A template could not be rendered for one message."""


class _StrictChainableUndefined(jinja2.ChainableUndefined, jinja2.StrictUndefined):
    """Chains through missing attributes so `default()` can catch them; fails when printed or tested."""


_ENV = SandboxedEnvironment(undefined=_StrictChainableUndefined, autoescape=False, keep_trailing_newline=True)


@lru_cache(maxsize=1024)
def _compile(source: str) -> jinja2.Template:
    return _ENV.from_string(source)


def template_context(payload: dict[str, Any]) -> dict[str, Any]:
    """What templates see: `subject` is the profile the journey follows, `recipient` who gets it."""
    return {
        "profile": payload.get("profile"),
        "subject": payload.get("profile"),
        "recipient": payload.get("recipient"),
        "event": payload.get("event"),
        "journey": payload.get("journey"),
    }


def render(name: str, template: Template, payload: dict[str, Any]) -> Content:
    """Render every text field of `template`; a mapping body (webhooks) has each string leaf rendered."""
    context = template_context(payload)

    def text(field: str, source: str | None) -> str | None:
        if source is None:
            return None
        try:
            return _compile(source).render(context)
        except Exception as error:  # any failure inside a user's template fails only this message
            raise RenderError(f"template {name!r}: {field}: {error}") from error

    def tree(field: str, value: Any) -> Any:
        if isinstance(value, str):
            return text(field, value)
        if isinstance(value, dict):
            return {key: tree(f"{field}.{key}", item) for key, item in value.items()}
        if isinstance(value, list):
            return [tree(f"{field}[{i}]", item) for i, item in enumerate(value)]
        return value

    return Content(
        subject=text("subject", template.subject),
        title=text("title", template.title),
        body=tree("body", template.body),
        template_name=text("template_name", template.template_name),
        language=text("language", template.language),
        parameters=tree("parameters", template.parameters),
    )
