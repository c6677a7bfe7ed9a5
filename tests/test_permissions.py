"""Each role's helper answers yes for its holder and no for an outsider; the three administrative roles
(system administrator, security administrator, auditor) do not overlap, in the services and in the admin."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from core.errors import ApplicationError, PermissionRefused
from core.models import AuditEntry
from duty_lists import permissions
from duty_lists.models import Agency, Membership, Role
from duty_lists.services import agency_create, membership_grant, membership_revoke

ROLE_HELPERS = [
    ("officer", permissions.is_editorial_officer),
    ("leader", permissions.is_leader),
    ("legal_reviewer", permissions.is_legal_reviewer),
    ("dispatcher", permissions.is_dispatcher),
    ("auditor", permissions.is_auditor),
    ("sysadmin", permissions.is_system_admin),
    ("secadmin", permissions.is_security_admin),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("persona", "helper"), ROLE_HELPERS)
def test_role_helper_answers_for_holder_and_refuses_outsider(request, persona, helper, member_b) -> None:
    holder = request.getfixturevalue(persona)
    assert helper(holder) is True
    assert helper(member_b) is False


@pytest.mark.django_db
def test_agency_staff_act_only_for_their_own_agency(member_a, member_b, agency_a, agency_b) -> None:
    assert permissions.may_act_for_agency(member_a, agency_a)
    assert not permissions.may_act_for_agency(member_a, agency_b)
    assert not permissions.may_act_for_agency(member_b, agency_a)


@pytest.mark.django_db
def test_inactive_membership_or_agency_grants_nothing(member_a, agency_a) -> None:
    Membership.objects.filter(user=member_a).update(is_active=False)
    permissions.forget_roles(member_a)
    assert not permissions.may_act_for_agency(member_a, agency_a)
    Membership.objects.filter(user=member_a).update(is_active=True)
    Agency.objects.filter(pk=agency_a.pk).update(is_active=False)
    permissions.forget_roles(member_a)
    assert not permissions.may_act_for_agency(member_a, agency_a)


@pytest.mark.django_db
def test_anonymous_visitor_holds_no_role(client) -> None:
    from django.contrib.auth.models import AnonymousUser

    assert permissions.roles_of(AnonymousUser()) == set()
    assert not permissions.may_use_admin_site(AnonymousUser())


@pytest.mark.django_db
def test_only_the_security_administrator_grants_roles(
    secadmin, sysadmin, auditor, officer, member_a, agency_b
):
    for outsider in (sysadmin, auditor, officer, member_a):
        with pytest.raises(PermissionRefused):
            membership_grant(actor=outsider, user=member_a, agency=agency_b, role=Role.AGENCY_STAFF)
    granted = membership_grant(
        actor=secadmin, user=member_a, agency=agency_b, role=Role.AGENCY_STAFF, reason="借调"
    )
    assert permissions.may_act_for_agency(member_a, agency_b)
    entry = AuditEntry.objects.get(action="duty_lists.membership.granted", object_id=str(granted.pk))
    assert entry.actor == secadmin and entry.reason == "借调"


@pytest.mark.django_db
def test_granting_twice_changes_nothing(secadmin, member_a, agency_b) -> None:
    first = membership_grant(actor=secadmin, user=member_a, agency=agency_b, role=Role.AGENCY_STAFF)
    second = membership_grant(actor=secadmin, user=member_a, agency=agency_b, role=Role.AGENCY_STAFF)
    assert first.pk == second.pk
    assert AuditEntry.objects.filter(action="duty_lists.membership.granted").count() == 1


@pytest.mark.django_db
def test_security_administrator_cannot_change_own_roles(secadmin, editorial_office) -> None:
    with pytest.raises(PermissionRefused):
        membership_grant(actor=secadmin, user=secadmin, agency=editorial_office, role=Role.EDITORIAL_OFFICER)


@pytest.mark.django_db
def test_one_person_holds_at_most_one_separated_role(secadmin, sysadmin, editorial_office) -> None:
    with pytest.raises(ApplicationError) as refused:
        membership_grant(actor=secadmin, user=sysadmin, agency=editorial_office, role=Role.AUDITOR)
    assert refused.value.code == "separated_roles"
    # and the database refuses it even if code forgot to ask
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=sysadmin, agency=editorial_office, role=Role.SECURITY_ADMIN)


@pytest.mark.django_db
def test_revoked_role_can_be_regranted_and_both_are_audited(secadmin, member_a, agency_a) -> None:
    membership = Membership.objects.get(user=member_a)
    membership_revoke(actor=secadmin, membership=membership, reason="调离")
    assert not permissions.may_act_for_agency(member_a, agency_a)
    membership_grant(actor=secadmin, user=member_a, agency=agency_a, role=Role.AGENCY_STAFF)
    assert permissions.may_act_for_agency(member_a, agency_a)
    actions = list(
        AuditEntry.objects.filter(action__startswith="duty_lists.membership").values_list("action", flat=True)
    )
    assert sorted(actions) == ["duty_lists.membership.granted", "duty_lists.membership.revoked"]


@pytest.mark.django_db
def test_only_system_administrator_or_editorial_office_create_agencies(
    sysadmin, officer, secadmin, auditor, member_a
) -> None:
    for outsider in (secadmin, auditor, member_a):
        with pytest.raises(PermissionRefused):
            agency_create(actor=outsider, code="X1", name="新部门", level="district")
    assert agency_create(actor=sysadmin, code="X1", name="新部门", level="district").pk
    assert agency_create(actor=officer, code="X2", name="另一部门", level="street").pk


# --- The admin site: each administrative role reaches its own pages only ------------------------------------

ADMIN_PAGES = {
    "audit": "admin:core_auditentry_changelist",
    "membership_add": "admin:duty_lists_membership_add",
    "agency_add": "admin:duty_lists_agency_add",
    "user_add": "admin:core_user_add",
    "calendar": "admin:core_calendaroverride_changelist",
    "lockouts": "admin:axes_accessattempt_changelist",
}
ALLOWED = {
    "auditor": {"audit"},
    "sysadmin": {"agency_add", "user_add", "calendar"},
    "secadmin": {"membership_add", "lockouts"},
}


@pytest.mark.django_db
@pytest.mark.parametrize("persona", sorted(ALLOWED))
def test_admin_roles_reach_only_their_own_pages(request, login, persona: str) -> None:
    client = login(request.getfixturevalue(persona))
    for page, url_name in ADMIN_PAGES.items():
        status = client.get(reverse(url_name)).status_code
        expected = 200 if page in ALLOWED[persona] else 403
        assert status == expected, f"{persona} → {page}: {status}"


@pytest.mark.django_db
def test_admin_refusal_is_written_to_the_audit_log(login, sysadmin) -> None:
    login(sysadmin).get(reverse(ADMIN_PAGES["audit"]))
    refused = AuditEntry.objects.get(action="core.access.refused")
    assert refused.actor == sysadmin and "auditentry" in refused.object_id


@pytest.mark.django_db
def test_agency_staff_cannot_enter_the_admin(login, member_a) -> None:
    response = login(member_a).get(reverse("admin:index"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_nobody_edits_the_audit_log_in_the_admin(login, auditor) -> None:
    client = login(auditor)
    entry = AuditEntry.objects.first()
    assert entry is not None
    page = client.get(reverse("admin:core_auditentry_change", args=[entry.pk]))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert (
        client.post(reverse("admin:core_auditentry_delete", args=[entry.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


@pytest.mark.django_db
def test_security_administrator_grants_a_role_in_the_admin(login, secadmin, member_a, agency_b) -> None:
    response = login(secadmin).post(
        reverse("admin:duty_lists_membership_add"),
        {"user": member_a.pk, "agency": agency_b.pk, "role": Role.DISPATCHER},
    )
    assert response.status_code == 302
    assert permissions.has_role(member_a, Role.DISPATCHER, agency_b)
    assert AuditEntry.objects.filter(action="duty_lists.membership.granted", actor=secadmin).exists()


@pytest.mark.django_db
def test_admin_shows_a_refused_grant_instead_of_failing(login, secadmin, sysadmin, editorial_office) -> None:
    response = login(secadmin).post(
        reverse("admin:duty_lists_membership_add"),
        {"user": sysadmin.pk, "agency": editorial_office.pk, "role": Role.AUDITOR},
        follow=True,
    )
    assert response.status_code == 200
    assert not Membership.objects.filter(user=sysadmin, role=Role.AUDITOR).exists()
    assert any("only one" in str(m) or "只能" in str(m) for m in response.context["messages"])
