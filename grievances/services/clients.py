"""Open311 client applications and their API keys. A key is shown once, when issued; only its SHA-256 is
stored, so a leaked database does not leak working keys."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import ApplicationError, PermissionRefused
from duty_lists import permissions
from grievances.models import ApiClient


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _may_manage(actor: Any) -> bool:
    return bool(getattr(actor, "is_superuser", False) or permissions.is_system_admin(actor))


def api_client_issue(*, actor: Any, name: str, key: str | None = None) -> tuple[ApiClient, str]:
    """Issue a client and its key (or a new key for an existing client of that name). ``key`` lets the demo
    loader use a fixed, printed key; everything else gets a random one."""
    if not _may_manage(actor):
        raise PermissionRefused(_("Only system administrators issue API keys."))
    if not name.strip():
        raise ApplicationError(
            _("Name the client application."), code="invalid_client", extra={"name": [_("Required.")]}
        )
    key = key or f"z311_{secrets.token_urlsafe(24)}"
    with transaction.atomic():
        client = ApiClient.objects.select_for_update().filter(name=name.strip()).first()
        if client is None:
            client = ApiClient(name=name.strip())
        client.key_prefix = key[:8]
        client.key_hash = _digest(key)
        client.is_active = True
        client.save()
        audit_record(
            actor=actor,
            action="grievances.api_client.issue",
            target=client,
            after={"prefix": client.key_prefix},
        )
    return client, key


def api_client_revoke(*, actor: Any, client: ApiClient, reason: str = "") -> ApiClient:
    if not _may_manage(actor):
        raise PermissionRefused(_("Only system administrators revoke API keys."))
    with transaction.atomic():
        ApiClient.objects.filter(pk=client.pk).update(is_active=False)
        client.is_active = False
        audit_record(actor=actor, action="grievances.api_client.revoke", target=client, reason=reason)
    return client


def api_client_for_key(key: str) -> ApiClient | None:
    """The active client that holds ``key``; None for a wrong, revoked or empty key."""
    if not key:
        return None
    client = ApiClient.objects.filter(key_hash=_digest(key), is_active=True).first()
    if client is not None:
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=timezone.now())
    return client
