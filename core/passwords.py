"""Password policy beyond Django's validators: character classes, no reuse, and periodic change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.models import PasswordRecord

CHARACTER_CLASSES = (
    ("lowercase letters", str.islower),
    ("uppercase letters", str.isupper),
    ("digits", str.isdigit),
    ("symbols", lambda c: not c.isalnum()),
)


class CharacterClassValidator:
    """At least ``min_classes`` of: lowercase, uppercase, digits, symbols."""

    def __init__(self, min_classes: int = 3):
        self.min_classes = min_classes

    def validate(self, password: str, user: Any = None) -> None:
        present = sum(1 for _name, test in CHARACTER_CLASSES if any(test(c) for c in password))
        if present < self.min_classes:
            raise ValidationError(self.get_help_text(), code="password_too_simple")

    def get_help_text(self) -> str:
        return ngettext(
            "Your password must mix at least %(n)d kind of character: lower case, upper case, digits, "
            "symbols.",
            "Your password must mix at least %(n)d kinds of character: lower case, upper case, digits, "
            "symbols.",
            self.min_classes,
        ) % {"n": self.min_classes}


class PasswordHistoryValidator:
    """Refuses the user's last ``history_size`` passwords, and records each new one — Django calls
    ``password_changed`` after every save of a new password, from any path (form, admin, shell)."""

    def __init__(self, history_size: int = 5):
        self.history_size = history_size

    def validate(self, password: str, user: Any = None) -> None:
        if user is None or user.pk is None:
            return
        recent = PasswordRecord.objects.filter(user=user).order_by("-changed_at")[: self.history_size]
        if any(check_password(password, record.password_hash) for record in recent):
            raise ValidationError(
                _("You used this password recently. Choose one you have not used in your last %(n)d.")
                % {"n": self.history_size},
                code="password_reused",
            )

    def password_changed(self, password: str, user: Any = None) -> None:
        if user is None or user.pk is None:
            return
        PasswordRecord.objects.create(user=user, password_hash=user.password, changed_at=timezone.now())
        keep = PasswordRecord.objects.filter(user=user).order_by("-changed_at")[: self.history_size]
        PasswordRecord.objects.filter(user=user).exclude(
            pk__in=list(keep.values_list("pk", flat=True))
        ).delete()

    def get_help_text(self) -> str:
        return _("Your password cannot be one of your last %(n)d passwords.") % {"n": self.history_size}


def password_expired(user: Any) -> bool:
    """True when the newest password is older than PASSWORD_MAX_AGE_DAYS (0 turns rotation off)."""
    max_age = settings.PASSWORD_MAX_AGE_DAYS
    if not max_age or not user.is_authenticated:
        return False
    newest = (
        PasswordRecord.objects.filter(user=user).order_by("-changed_at").values_list("changed_at", flat=True)
    )
    changed_at = newest.first() or user.date_joined
    return bool(timezone.now() - changed_at > timedelta(days=max_age))
