"""Pages read in Chinese show people and things by name: translated audit actions, actors as full name and
agency (the system as the system), stored references as links, django-axes under a Chinese name."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from arbitration.models import Domain
from arbitration.services import dispute_file
from core.actors import SYSTEM
from core.audit import audit_record

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:core_auditentry_changelist"


@pytest.fixture
def urban(db: None) -> Domain:
    return Domain.objects.get_or_create(code="urban", defaults={"name": "城市管理"})[0]


def file(member: Any, agency: Any, respondent: Any, urban: Domain, **extra: Any) -> Any:
    return dispute_file(
        actor=member,
        title="占道经营由谁查处",
        description="商户在人行道上摆摊。",
        kind="pushback",
        domain=urban,
        filing_agency=agency,
        respondents=[respondent],
        **extra,
    )


def test_audit_log_shows_translated_headers_actions_and_people(login, auditor, member_a) -> None:
    audit_record(actor=member_a, action="core.auth.login")
    audit_record(actor=SYSTEM, action="core.audit.chain_broken")
    html = login(auditor).get(reverse(CHANGELIST)).content.decode()
    assert "序号" in html and "时间" in html and "操作人" in html
    assert ">Seq<" not in html and ">At<" not in html and "Actor repr" not in html
    assert "登录" in html and "审计链校验失败" in html
    # Not as text anywhere, the action filter included (only its query string keeps the code).
    assert ">core.auth.login" not in html and "core.auth.login<" not in html
    assert f"{member_a.name} · 区综合执法局" in html
    assert "职责系统（自动）" in html and ">system<" not in html


def test_an_audit_entry_page_names_the_action_and_person_and_folds_the_codes_away(
    login, auditor, member_a
) -> None:
    from core.models import AuditEntry

    audit_record(actor=member_a, action="core.auth.login")
    entry = AuditEntry.objects.latest("seq")
    html = login(auditor).get(reverse("admin:core_auditentry_change", args=[entry.pk])).content.decode()
    stored = html.index("原始记录（供工具和哈希链校验）")
    assert html.index("登录") < stored and html.index(f"{member_a.name} · 区综合执法局") < stored
    assert html.index("core.auth.login") > stored  # the code only in the folded section


def test_a_member_without_the_auditor_role_is_refused_the_audit_log(login, member_a) -> None:
    response = login(member_a).get(reverse(CHANGELIST))
    assert response.status_code in (302, 403)
    assert "core.auth.login" not in response.content.decode()


def test_admin_index_names_django_axes_in_chinese(login, secadmin) -> None:
    html = login(secadmin).get(reverse("admin:index")).content.decode()
    assert "登录安全" in html and "登录尝试" in html
    assert "Access attempts" not in html and "Axes" not in html


def test_dispute_shows_its_source_as_a_link_and_its_filer_by_name_and_agency(
    login, member_a, agency_a, agency_b, urban
) -> None:
    earlier = file(member_a, agency_a, agency_b, urban)
    dispute = file(member_a, agency_a, agency_b, urban, source_ref=f"arbitration.dispute:{earlier.pk}")
    html = login(member_a).get(reverse("arbitration:dispute_detail", args=[dispute.pk])).content.decode()
    url = reverse("arbitration:dispute_detail", args=[earlier.pk])
    assert f'<a href="{url}">争议 #{earlier.pk}：占道经营由谁查处</a>' in html
    assert "arbitration.dispute:" not in html
    assert f"{member_a.name} · 区综合执法局" in html  # the timeline's "filed" event


def test_demo_source_reads_as_demo_data(login, member_a, agency_a, agency_b, urban) -> None:
    dispute = file(member_a, agency_a, agency_b, urban, source_ref="demo:taxonomy_3level")
    html = login(member_a).get(reverse("arbitration:dispute_detail", args=[dispute.pk])).content.decode()
    assert "演示数据：共享数据集的三级职责分类" in html and "taxonomy_3level" not in html


def test_an_unnamed_demo_source_still_reads_as_demo_data(login, member_a, agency_a, agency_b, urban) -> None:
    dispute = file(member_a, agency_a, agency_b, urban, source_ref="demo:other")
    html = login(member_a).get(reverse("arbitration:dispute_detail", args=[dispute.pk])).content.decode()
    assert "演示数据（other）" in html and "demo:other" not in html


def test_the_grievance_timeline_names_people_and_the_system_not_logins(login, dispatcher, agency_a) -> None:
    from grievances.services import grievance_dispatch, grievance_receive

    grievance, _ = grievance_receive(
        actor=dispatcher, title="夜间施工噪音", details="工地凌晨还在施工。", channel="hotline"
    )
    grievance_dispatch(actor=dispatcher, grievance=grievance, agency=agency_a, note="按清单派单")
    html = login(dispatcher).get(reverse("grievances:detail", args=[grievance.pk])).content.decode()
    assert f'<span class="timeline__who">{dispatcher.name}' in html
    assert f'<span class="timeline__who">{dispatcher.username}<' not in html


def test_the_system_and_departed_accounts_read_as_names() -> None:
    from django.template import Context, Template

    template = Template("{% load zhize %}{{ None|person:repr }}")
    assert template.render(Context({"repr": "system"})) == "职责系统（自动）"
    assert template.render(Context({"repr": "wangfang"})) == "wangfang"  # the account is gone: as recorded
