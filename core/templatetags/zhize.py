"""Template helpers that turn what rows store (action codes, actors, references) into what people read."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html

from core import references
from core.actions import action_label
from core.actors import display_name

register = template.Library()


@register.filter
def action(code: str) -> str:
    """{{ entry.action|action }} → "登录" for "core.auth.login"."""
    return action_label(code)


@register.filter
def person(user: Any, fallback: str = "") -> str:
    """{{ event.actor|person:event.actor_repr }} → "王芳 · 区城管局", or "职责系统（自动）" for the system."""
    return display_name(user or None, fallback)


@register.simple_tag(takes_context=True)
def reference(context: Any, ref: str) -> str:
    """{% reference dispute.source_ref %} → a link with a human name, for the user looking at the page.
    A reference no app resolves is shown as it is, as code, rather than dropped."""
    if not ref:
        return ""
    request = context.get("request")
    found = references.describe(ref, getattr(request, "user", None))
    if found is None:
        return format_html("<code>{}</code>", ref)
    if found.url:
        return format_html('<a href="{}">{}</a>', found.url, found.label)
    return format_html("{}", found.label)
