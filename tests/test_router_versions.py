"""Router versions (issue 9): trained from the office's history by agency, measured on its newest grievances,
put in force only when better, switched by an officer, and a version that fails to load leaves the list
routing alone and says so."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from core.actors import SYSTEM
from core.errors import ApplicationError, PermissionRefused
from core.models import AuditEntry
from duty_lists.models import Agency
from grievances import routing, services
from grievances.models import Grievance, GrievanceState, RouterModel, RouterModelState
from tests.grievance_helpers import World, build_world

# Words the list's terse titles and keywords do not contain: only the office's history knows who handles them.
LOUD = ["楼上邻居天天装修电钻声", "隔壁酒吧半夜放音乐很响", "广场舞音响太大声", "楼下商铺喇叭一直喊"]
DIRTY = ["楼道里堆满杂物发臭", "小区绿化带里全是烟头纸屑", "单元门口脏水横流", "小区里死老鼠没人管"]


@pytest.fixture
def world(agency_a: Agency, agency_b: Agency) -> World:
    return build_world(agency_a, agency_b)


def _history(dispatcher: Any, world: World, agency_b: Agency, n: int = 30) -> None:
    """``n`` grievances about loud neighbours that agency_b finally handled under its noise duty and ``n``
    about dirty courtyards the street handled, interleaved in time; the list matches neither well."""
    start = timezone.now() - timedelta(days=60)
    for i in range(2 * n):
        loud = i % 2 == 0
        texts = LOUD if loud else DIRTY
        grievance, _ = services.grievance_receive(
            actor=dispatcher,
            title=f"{texts[i // 2 % 4]}（第{i}次）",
            details="请尽快处理",
            contact_name="王小明",
            contact_phone="13800000000",
            street=world.street,
            idempotency_key=f"h{i}",
            route=False,
        )
        # The accepted end state of a grievance, as fixture data: the loop itself is tested elsewhere.
        Grievance.objects.filter(pk=grievance.pk).update(
            state=GrievanceState.ACCEPTED,
            handling_agency=agency_b if loud else world.street,
            duty=world.noise if loud else world.sanitation,
            accepted_at=start + timedelta(hours=i),
        )


def _train(actor: Any = SYSTEM, **kw: Any) -> RouterModel:
    model = services.router_train(actor=actor, **kw)
    assert model is not None
    routing.forget()
    return model


def test_a_version_learned_by_final_agency_beats_the_list_and_is_put_in_force(
    dispatcher, world, agency_a, agency_b
):
    _history(dispatcher, world, agency_b)

    model = _train()

    assert model.state == RouterModelState.READY and model.in_force
    m = model.metrics
    assert (m["train_size"], m["test_size"]) == (48, 12)  # the newest fifth, by acceptance time
    assert m["top1"] > m["list_top1"] and m["history_top1"] >= m["list_top1"]
    assert model.window_start is not None and model.window_end is not None
    assert model.window_start < model.window_end
    assert 0 < m["threshold"] <= 1 and m["precision"] >= m["target_precision"] and m["coverage"] > 0
    assert model.samples == 60 and model.labels == 2  # agency_b and "the street where it happened"

    suggestions = routing.route("半夜楼上装修电钻声", street=world.street)
    assert suggestions[0].agency_id == agency_b.pk and suggestions[0].source in {"both", "history"}
    assert suggestions[0].learned_words
    assert suggestions[0].duty_id == world.noise.pk  # the duty it usually handled under
    assert routing.route("小区绿化带里烟头纸屑", street=world.street)[0].agency_id == world.street.pk
    assert routing.auto_dispatch_threshold() == m["threshold"]  # the office's own, not the setting
    assert AuditEntry.objects.filter(action="grievances.router.activated", object_id=str(model.pk)).exists()


def test_a_version_no_better_than_the_list_is_kept_but_not_put_in_force(dispatcher, world, agency_a):
    start = timezone.now() - timedelta(days=30)
    for i in range(60):
        vending = i % 2 == 0
        grievance, _ = services.grievance_receive(
            actor=dispatcher,
            title=("流动摊贩占道经营" if vending else "小区垃圾没人清运") + f"{i}",
            details="",
            contact_name="王小明",
            contact_phone="13800000000",
            street=world.street,
            idempotency_key=f"s{i}",
            route=False,
        )
        Grievance.objects.filter(pk=grievance.pk).update(
            state=GrievanceState.ACCEPTED,
            handling_agency=agency_a if vending else world.street,
            accepted_at=start + timedelta(hours=i),
        )

    model = _train()

    assert model.state == RouterModelState.READY and not model.in_force
    assert model.metrics["list_top1"] == 1.0
    assert model.stage == gettext("Not better than the list alone on the newest grievances.")
    assert routing.learned() is None


def test_too_little_history_fails_the_version_clearly_and_the_one_in_force_stays(
    dispatcher, world, agency_b, officer
):
    _history(dispatcher, world, agency_b)
    in_force = _train()
    Grievance.objects.exclude(pk__in=Grievance.objects.order_by("id")[:5].values("pk")).delete()

    queued = services.router_training_request(actor=officer, reason="test")
    failed = _train(model=queued)

    assert failed.state == RouterModelState.FAILED
    assert " 5 " in failed.error and " 20" in failed.error  # how many there are, and how many it needs
    assert RouterModel.objects.get(in_force=True) == in_force


def test_retraining_is_for_the_office_and_a_second_request_returns_the_pending_one(
    officer, member_a, dispatcher, django_capture_on_commit_callbacks
):
    with pytest.raises(PermissionRefused):
        services.router_training_request(actor=member_a)
    with pytest.raises(PermissionRefused):
        services.router_training_request(actor=dispatcher)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = services.router_training_request(actor=officer, reason="测试")
        second = services.router_training_request(actor=officer, reason="again")

    assert first == second and first.state == RouterModelState.QUEUED and first.requested_by == officer
    assert len(callbacks) == 1  # one task enqueued, after commit
    assert RouterModel.objects.count() == 1


def test_a_version_whose_worker_was_lost_does_not_block_retraining(
    officer, django_capture_on_commit_callbacks
):
    lost = RouterModel.objects.create(
        state=RouterModelState.TRAINING, created_at=timezone.now() - timedelta(hours=2), progress=45
    )

    with django_capture_on_commit_callbacks(execute=False):
        fresh = services.router_training_request(actor=officer)

    lost.refresh_from_db()
    assert lost.state == RouterModelState.FAILED and lost.error
    assert fresh != lost and fresh.state == RouterModelState.QUEUED


def test_an_officer_switches_versions_and_outsiders_may_not(dispatcher, world, agency_b, officer, member_a):
    _history(dispatcher, world, agency_b)
    first = _train()
    second = _train()  # as good on the same history: the fresher one is put in force
    assert second.in_force

    with pytest.raises(PermissionRefused):
        services.router_model_activate(actor=member_a, model=first)
    with pytest.raises(PermissionRefused):
        services.router_model_activate(actor=dispatcher, model=first)

    services.router_model_activate(actor=officer, model=first)
    services.router_model_activate(actor=officer, model=first)  # twice: nothing more happens
    assert RouterModel.objects.get(in_force=True) == first
    assert (
        AuditEntry.objects.filter(action="grievances.router.activated", object_id=str(first.pk)).count() == 2
    )

    services.router_model_withdraw(actor=officer, model=first)
    routing.forget()
    assert not RouterModel.objects.filter(in_force=True).exists() and routing.learned() is None

    failed = RouterModel.objects.create(state=RouterModelState.FAILED, error="boom")
    with pytest.raises(ApplicationError):
        services.router_model_activate(actor=officer, model=failed)


def test_a_version_that_fails_to_load_leaves_the_list_routing_and_the_pages_say_so(
    client, dispatcher, world, agency_a
):
    RouterModel.objects.create(state=RouterModelState.READY, in_force=True, model=b"not a model", samples=900)
    routing.forget()

    suggestions = routing.route("流动摊贩占道经营", street=world.street)

    assert suggestions[0].agency_id == agency_a.pk and suggestions[0].source == "list"
    assert routing.status()["load_error"]
    client.force_login(dispatcher)
    for url in (reverse("grievances:queue"), reverse("grievances:router")):
        page = client.get(url).content.decode()
        assert "failed to load" in page or "加载失败" in page


def test_the_router_page_shows_the_measured_auto_dispatch_and_only_officers_manage(
    client, dispatcher, world, agency_b, officer, member_a
):
    _history(dispatcher, world, agency_b)
    model = _train()

    client.force_login(member_a)
    assert client.get(reverse("grievances:router")).status_code == 403
    assert client.post(reverse("grievances:router_retrain")).status_code == 403

    client.force_login(dispatcher)
    page = client.get(reverse("grievances:router")).content.decode()
    assert f'data-router-in-force="{model.pk}"' in page
    assert "Retrain now" not in page and "立即重新训练" not in page  # dispatchers read, officers act
    assert (
        client.post(
            reverse("grievances:router_activate", args=[model.pk]), {"action": "withdraw"}
        ).status_code
        == 403
    )

    client.force_login(officer)
    page = client.get(reverse("grievances:router")).content.decode()
    assert f"{model.metrics['coverage'] * 100:.1f}%" in page
    response = client.post(reverse("grievances:router_activate", args=[model.pk]), {"action": "withdraw"})
    assert response.status_code == 302
    assert not RouterModel.objects.filter(in_force=True).exists()


def test_a_new_edition_queues_retraining_when_there_is_history(
    dispatcher, world, agency_b, monkeypatch, django_capture_on_commit_callbacks
):
    from grievances import tasks
    from tests.registry import publish, stage

    queued: list[str] = []
    monkeypatch.setattr(tasks.retrain_router, "delay", lambda reason="": queued.append(reason))
    for name in ("reroute_after_edition", "rescore_after_edition"):
        monkeypatch.setattr(getattr(tasks, name), "delay", lambda *args: None)
    _history(dispatcher, world, agency_b, n=12)

    stage(world.duty_list, "03-01-0001", "共享单车乱停放", agency_b, keywords=["共享单车"])
    with django_capture_on_commit_callbacks(execute=True):
        publish(world.duty_list)
    assert queued and queued[-1].startswith("edition")

    requested: list[str] = []

    def request(*, actor: Any, reason: str) -> Any:
        requested.append(reason)
        return RouterModel(pk=7)

    monkeypatch.setattr(services, "router_training_request", request)
    assert tasks.retrain_router.run("edition test") == 7
    assert requested == ["edition test"]


# --- Bad input: a clear error, nothing saved ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "", "details": "工地凌晨还在施工"}, "title"),
        ({"title": "   ", "details": ""}, "title"),
        ({"title": "夜里施工噪音", "details": "吵" * 20_001}, "details"),
    ],
)
def test_an_api_grievance_with_empty_or_oversized_text_is_a_400_naming_the_field(
    login, world, dispatcher, body, field
):
    response = login(dispatcher).post(
        "/api/v1/grievances/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1"
    )

    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["details"]
    assert not Grievance.objects.exists()


def test_the_service_refuses_oversized_details_whatever_the_path(dispatcher, world):
    with pytest.raises(ApplicationError) as refused:
        services.grievance_receive(
            actor=dispatcher, title="夜里施工噪音", details="吵" * 20_001, street=world.street, route=False
        )

    assert "20000" in str(refused.value.extra["details"][0]).replace(",", "")
    assert not Grievance.objects.exists()
