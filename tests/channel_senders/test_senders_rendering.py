"""Templates render in the sandbox; failures name the template and the field."""

from __future__ import annotations

import pytest

from channel_senders.rendering import RenderError, render
from journey_compiler.config.templates import Template


def test_mapping_bodies_render_every_string_leaf(make_payload):
    template = Template(
        channel="webhook",
        body={
            "who": "{{ recipient.profile_id }}",
            "tags": ["{{ journey.id }}", 3],
            "nested": {"n": 1, "city": "{{ profile.attributes.city }}"},
        },
    )

    content = render("t", template, make_payload(attributes={"city": "Oslo"}))

    assert content.body == {"who": "p1", "tags": ["welcome", 3], "nested": {"n": 1, "city": "Oslo"}}


def test_missing_variable_fails_unless_defaulted(make_payload):
    template = Template(
        channel="sms", body="{{ profile.attributes.tier | default('Member') }} {{ profile.nope }}"
    )

    with pytest.raises(RenderError, match=r"template 'tier': body: 'dict object' has no attribute 'nope'"):
        render("tier", template, make_payload())


def test_sandbox_blocks_python_internals(make_payload):
    template = Template(channel="email", subject="{{ profile.__class__.__mro__ }}", body="x")

    with pytest.raises(RenderError, match="template 'evil': subject: access to attribute '__class__'"):
        render("evil", template, make_payload())


def test_text_is_not_html_escaped(make_payload):
    template = Template(channel="sms", body="{{ profile.attributes.name }}")

    assert render("t", template, make_payload(attributes={"name": "Tom & <Jerry>"})).body == "Tom & <Jerry>"
