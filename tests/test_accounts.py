"""Signing in as a government system needs it: lockout, idle timeout, password policy, and an audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEntry, PasswordRecord
from core.services import lockout_lift

LOGIN = "/accounts/login/"


def _sign_in(client: Client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password})


@pytest.mark.django_db
def test_sign_in_and_out_are_audited(member_a, password) -> None:
    client = Client()
    response = _sign_in(client, "member_a", password)
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert client.get(reverse("home")).context["user"] == member_a
    client.post(reverse("logout"))
    actions = list(AuditEntry.objects.filter(actor=member_a).order_by("seq").values_list("action", flat=True))
    assert actions == ["core.auth.login", "core.auth.logout"]


@pytest.mark.django_db
def test_failed_sign_in_is_audited_without_the_password(member_a) -> None:
    response = _sign_in(Client(), "member_a", "wrong-password-1")
    assert response.status_code == 200  # the form again, with its error
    entry = AuditEntry.objects.get(action="core.auth.login_failed")
    assert entry.object_id == "member_a"
    assert "wrong-password-1" not in str(entry.before) + str(entry.after) + entry.reason


@pytest.mark.django_db
def test_five_failures_lock_the_account_even_against_the_right_password(member_a, password, secadmin) -> None:
    client = Client()
    for _ in range(5):
        _sign_in(client, "member_a", "wrong-password-1")
    locked = _sign_in(client, "member_a", password)
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.filter(action="core.auth.locked_out", object_id="member_a").exists()

    # the security administrator lifts it, and the person can sign in again
    assert lockout_lift(actor=secadmin, username="member_a") > 0
    assert _sign_in(Client(), "member_a", password).status_code == 302
    assert AuditEntry.objects.filter(action="core.auth.lockout_lifted", actor=secadmin).exists()


@pytest.mark.django_db
def test_lockout_expires_after_the_cooloff(member_a, password) -> None:
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(5):
            _sign_in(Client(), "member_a", "wrong-password-1")
        assert _sign_in(Client(), "member_a", password).status_code == 429
        traveller.shift(timedelta(minutes=16))
        assert _sign_in(Client(), "member_a", password).status_code == 302


@pytest.mark.django_db
def test_four_failures_do_not_lock(member_a, password) -> None:
    for _ in range(4):
        _sign_in(Client(), "member_a", "wrong-password-1")
    assert _sign_in(Client(), "member_a", password).status_code == 302


@pytest.mark.django_db
def test_idle_session_expires_after_thirty_minutes(member_a, password) -> None:
    client = Client()
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        _sign_in(client, "member_a", password)
        traveller.shift(timedelta(minutes=31))
        response = client.get(reverse("password_change"))
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_activity_keeps_the_session_alive(member_a, password) -> None:
    client = Client()
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        _sign_in(client, "member_a", password)
        for _ in range(3):
            traveller.shift(timedelta(minutes=20))
            assert client.get(reverse("password_change")).status_code == 200


@pytest.mark.django_db
def test_the_session_is_renewed_at_most_once_a_minute_not_on_every_page(member_a, password) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def session_writes() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("password_change")).status_code == 200
        return sum(1 for q in queries if q["sql"].startswith("UPDATE") and "django_session" in q["sql"])

    client = Client()
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        _sign_in(client, "member_a", password)
        traveller.shift(timedelta(minutes=2))
        assert session_writes() == 1  # stale: renewed
        traveller.shift(timedelta(seconds=20))
        assert session_writes() == 0  # renewed 20 s ago: left alone
        traveller.shift(timedelta(seconds=50))
        assert session_writes() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("candidate", "code"),
    [("Ab1!", "password_too_short"), ("alllowercaseletters", "password_too_simple"), ("Password123", None)],
)
def test_password_policy_refuses_weak_passwords(member_a, candidate: str, code: str | None) -> None:
    with pytest.raises(ValidationError) as refused:
        validate_password(candidate, member_a)
    if code:
        assert code in {e.code for e in refused.value.error_list}


@pytest.mark.django_db
def test_password_policy_accepts_a_strong_password(member_a) -> None:
    validate_password("Quiet-River-2026", member_a)  # raises ValidationError when refused
    member_a.set_password("Quiet-River-2026")
    assert member_a.check_password("Quiet-River-2026")


@pytest.mark.django_db
def test_recent_passwords_cannot_be_reused(member_a, password) -> None:
    with pytest.raises(ValidationError) as refused:
        validate_password(password, member_a)
    assert "password_reused" in {e.code for e in refused.value.error_list}


@pytest.mark.django_db
def test_expired_password_must_be_changed_before_anything_else(member_a, password) -> None:
    PasswordRecord.objects.filter(user=member_a).update(changed_at=timezone.now() - timedelta(days=91))
    client = Client()
    _sign_in(client, "member_a", password)
    assert client.get(reverse("home"))["Location"] == reverse("password_change")
    # The icon the browser fetches beside the page is not sent to the password page too.
    assert client.get(reverse("favicon"))["Location"] != reverse("password_change")

    response = client.post(
        reverse("password_change"),
        {"old_password": password, "new_password1": "Quiet-River-2026", "new_password2": "Quiet-River-2026"},
    )
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200
    assert PasswordRecord.objects.filter(user=member_a).count() == 2


@pytest.mark.django_db
def test_password_change_form_explains_the_policy(member_a, login) -> None:
    page = login(member_a).get(reverse("password_change"))
    assert page.status_code == 200
    help_texts = " ".join(page.context["form"]["new_password1"].help_text.split())
    assert "10" in help_texts
