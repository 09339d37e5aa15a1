"""Render a message template against one outbox payload, in jinja2's sandbox.

Templates are written by CRM users, so they run sandboxed and every failure (syntax, missing variable, an
exception inside an expression) fails only the message that used them, with a detail naming the template.
A missing variable is an error rather than an empty string, except where the template says what to do
instead: `{{ event.properties.channel | default('our site') }}` renders even when the message has no event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import concat

from channel_senders.protocol import Content
from journey_compiler.config.templates import Template
from journey_compiler.errors import JourneysError


class RenderError(JourneysError):
    """A template could not be rendered for one message."""


class _StrictChainableUndefined(jinja2.ChainableUndefined, jinja2.StrictUndefined):
    """Chains through missing attributes so `default()` can catch them; fails when printed or tested."""


_ENV = SandboxedEnvironment(undefined=_StrictChainableUndefined, autoescape=False, keep_trailing_newline=True)

_Node = Callable[[dict[str, Any]], Any]
"""One field of a template, compiled: the jinja context -> its rendered value."""


def template_context(payload: dict[str, Any]) -> dict[str, Any]:
    """What templates see: `subject` is the profile the journey follows, `recipient` who gets it."""
    return {
        **_ENV.globals,
        "profile": payload.get("profile"),
        "subject": payload.get("profile"),
        "recipient": payload.get("recipient"),
        "event": payload.get("event"),
        "journey": payload.get("journey"),
    }


class CompiledTemplate:
    """A message template compiled once (a dispatch compiles each template it meets once) and rendered
    for many payloads. A template that does not compile fails each message that uses it, not the dispatch."""

    def __init__(self, name: str, template: Template) -> None:
        self._name = name
        self._fields = [
            (field, self._compile(field, getattr(template, field)))
            for field in ("subject", "title", "body", "template_name", "language", "parameters")
        ]

    def render(self, payload: dict[str, Any]) -> Content:
        """Every text field rendered; a mapping body (webhooks) has each string leaf rendered."""
        context = template_context(payload)
        return Content(**{field: node(context) for field, node in self._fields})

    def _compile(self, where: str, value: Any) -> _Node:
        if isinstance(value, str):
            return self._text(where, value)
        if isinstance(value, dict):
            items = [(key, self._compile(f"{where}.{key}", item)) for key, item in value.items()]
            return lambda context: {key: node(context) for key, node in items}
        if isinstance(value, list):
            nodes = [self._compile(f"{where}[{i}]", item) for i, item in enumerate(value)]
            return lambda context: [node(context) for node in nodes]
        return lambda _: value

    def _text(self, where: str, source: str) -> _Node:
        prefix = f"template {self._name!r}: {where}: "
        try:
            compiled = _ENV.from_string(source)
        except Exception as error:  # a syntax error: every message using the template fails with it
            reason = f"{prefix}{error}"

            def broken(_: dict[str, Any]) -> str:
                raise RenderError(reason)

            return broken

        def text(context: dict[str, Any]) -> str:
            try:
                # what Template.render does, less a copy of the globals per field: the context has them
                return concat(compiled.root_render_func(compiled.new_context(context, shared=True)))
            except Exception as error:  # any failure inside a user's template fails only this message
                raise RenderError(f"{prefix}{error}") from error

        return text


def render(name: str, template: Template, payload: dict[str, Any]) -> Content:
    """One message's content; a dispatch keeps a `CompiledTemplate` per template instead."""
    return CompiledTemplate(name, template).render(payload)
