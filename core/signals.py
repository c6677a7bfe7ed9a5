"""Sign-ins, sign-outs, failures and lockouts go to the audit log, whatever path they took."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from core.audit import audit_record


@receiver(user_logged_in)
def _audit_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit_record(actor=user, action="core.auth.login", target=user, request=request)


@receiver(user_logged_in)
def _stamp_session(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """A session just signed in is fresh: the idle timeout's renewal (core.middleware) starts from now."""
    from core.middleware import mark_session_renewed

    if getattr(request, "session", None) is not None:
        mark_session_renewed(request.session)


@receiver(user_logged_out)
def _audit_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit_record(actor=user, action="core.auth.logout", target=user, request=request)


@receiver(user_login_failed)
def _audit_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    # The password never reaches the log: Django has already masked it in ``credentials``.
    username = str(credentials.get("username", ""))[:150]
    audit_record(
        actor=None,
        actor_repr=username or "anonymous",
        action="core.auth.login_failed",
        object_type="username",
        object_id=username[:100],
        request=request,
    )


@receiver(user_locked_out)
def _audit_lockout(
    sender: Any, request: Any, username: str | None = None, ip_address: str | None = None, **kwargs: Any
) -> None:
    audit_record(
        actor=None,
        actor_repr=username or "anonymous",
        action="core.auth.locked_out",
        object_type="username",
        object_id=(username or "")[:100],
        request=request,
    )
