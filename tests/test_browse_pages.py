"""The public duty-list pages: the lists, a list as a tree, a duty with its history, the list as of a date,
what an edition published, and the officers' publish page.

Registry content is built through the services (``Registry`` below), as the product builds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from core.actors import SYSTEM
from duty_lists import views_browse
from duty_lists.diff import compare as edition_diff
from duty_lists.models import Agency, DutyList, DutyRevision, Edition
from duty_lists.proposals import DutyContent, LegalBasisSpec, ParticipantSpec
from duty_lists.selectors import revisions_at_edition
from duty_lists.services import duty_list_create, edition_publish, revision_stage, structure_ensure
from tests.factories import AgencyFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
LIST_CODE = "ms"


# --- Building a registry through the services ------------------------------------------------------------


@dataclass
class Registry:
    """A livelihood list with two categories, staged and published with the system actor."""

    duty_list: DutyList

    @classmethod
    def create(cls, *, reviewing: tuple[Agency, ...] = (), code: str = LIST_CODE) -> Registry:
        duty_list = duty_list_create(
            actor=SYSTEM,
            code=code,
            name="区民生诉求职责清单",
            kind="livelihood",
            reviewing_agencies=reviewing,
        )
        for category, category_name, classification, classification_name in (
            ("03", "城市管理", "03-12", "市容环境"),
            ("05", "生态环境", "05-01", "噪声污染"),
        ):
            structure_ensure(
                duty_list=duty_list,
                category_code=category,
                category_name=category_name,
                classification_code=classification,
                classification_name=classification_name,
            )
        return cls(duty_list)

    def stage(
        self,
        code: str,
        title: str,
        lead: Agency,
        *,
        cooperating: tuple[Agency, ...] = (),
        classification: str | None = None,
        source_ref: str = "test",
        **extra: object,
    ) -> DutyRevision:
        content = DutyContent(
            classification=classification or code.rsplit("-", 1)[0],
            title=title,
            description=f"{title}的受理与处置",
            participants=[ParticipantSpec(lead.code, "lead", f"负责{title}的查处")]
            + [ParticipantSpec(a.code, "cooperating", "配合提供信息") for a in cooperating],
            legal_bases=[LegalBasisSpec("《城市市容和环境卫生管理条例》", "第十四条", "国务院令第101号")],
            keywords=["占道", "摆摊"],
            **extra,
        )
        return revision_stage(duty_list=self.duty_list, code=code, content=content, source_ref=source_ref)

    def remove(self, code: str) -> DutyRevision:
        return revision_stage(duty_list=self.duty_list, code=code, content=None, source_ref="test")

    def publish(self, note: str = "") -> Edition:
        return edition_publish(actor=SYSTEM, duty_list=self.duty_list, note=note)


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=10, tzinfo=SHANGHAI)


def list_url(code: str = LIST_CODE) -> str:
    return reverse("duty_lists:list_detail", kwargs={"code": code})


def duty_url(duty_code: str, code: str = LIST_CODE) -> str:
    return reverse("duty_lists:duty_detail", kwargs={"code": code, "duty_code": duty_code})


@pytest.fixture
def agency_c(db: None) -> Any:
    return AgencyFactory(code="C-zjj", name="区住房和城乡建设局", short_name="区住建局")


@pytest.fixture
def registry(agency_a: Agency, agency_b: Agency) -> Registry:
    """Edition 1: two duties led by agency A (one with B cooperating) and a noise duty led by B."""
    registry = Registry.create()
    registry.stage("03-12-0001", "占道经营", agency_a, cooperating=(agency_b,))
    registry.stage("03-12-0002", "乱贴乱画", agency_a)
    registry.stage("05-01-0001", "社会生活噪声", agency_b, duty_type="enforcement")
    registry.publish("首次发布")
    return registry


# --- The lists and the tree ------------------------------------------------------------------------------


def test_index_lists_each_list_with_its_latest_edition(client, registry: Registry) -> None:
    html = client.get(reverse("duty_lists:index")).content.decode()
    assert "区民生诉求职责清单" in html
    assert reverse("duty_lists:edition_detail", kwargs={"code": LIST_CODE, "number": 1}) in html


def test_list_page_is_public_and_shows_the_tree_with_leads(client, registry: Registry) -> None:
    response = client.get(list_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert "城市管理" in html and "市容环境" in html and "噪声污染" in html  # category and classification
    assert "占道经营" in html and duty_url("03-12-0001") in html
    assert "<details" in html
    node = next(c for c in response.context["tree"] if c.code == "03")
    revision = node.classifications[0].revisions[0]
    assert revision.lead.agency.code == "A-zhzf"
    assert [p.agency.code for p in revision.cooperating] == ["B-sjj"]


def test_unknown_list_is_404(client, db) -> None:
    assert client.get(list_url("nope")).status_code == 404


def test_filter_by_agency_matches_lead_or_cooperating(client, registry: Registry, agency_b: Agency) -> None:
    response = client.get(list_url(), {"agency": agency_b.code})
    codes = {r.code for c in response.context["tree"] for n in c.classifications for r in n.revisions}
    assert codes == {"03-12-0001", "05-01-0001"}  # cooperating on one, lead of the other
    assert {a.code for a in response.context["agencies"]} == {"A-zhzf", "B-sjj"}


def test_filter_by_duty_type_and_layer(client, registry: Registry) -> None:
    response = client.get(list_url(), {"duty_type": "enforcement"})
    assert response.context["total"] == 1
    assert client.get(list_url(), {"layer": "street"}).context["total"] == 0


def test_search_returns_ranked_results(client, registry: Registry) -> None:
    response = client.get(list_url(), {"q": "噪声"})
    assert response.context["mode"] == "search"
    codes = [r.code for r in response.context["page"].object_list]
    assert codes[0] == "05-01-0001"
    assert "社会生活噪声" in response.content.decode()


def test_a_large_list_opens_one_category_at_a_time(client, registry: Registry, monkeypatch) -> None:
    monkeypatch.setattr(views_browse, "LARGE_LIST", 2)
    overview = client.get(list_url())
    assert overview.context["mode"] == "overview"
    assert [(c.code, c.count) for c in overview.context["tree"]] == [("03", 2), ("05", 1)]
    assert duty_url("03-12-0001") not in overview.content.decode()  # duties are not rendered in the overview
    opened = client.get(list_url(), {"category": "03"})
    assert opened.context["mode"] == "tree" and opened.context["total"] == 2
    html = opened.content.decode()
    assert "占道经营" in html and "社会生活噪声" not in html
    searched = client.get(list_url(), {"category": "05", "q": "噪声"})
    assert [r.code for r in searched.context["page"]] == ["05-01-0001"]
    assert client.get(list_url(), {"category": "03", "q": "噪声"}).context["page"].paginator.count == 0


@pytest.mark.parametrize("duties", [5, 30])
def test_list_page_runs_a_fixed_number_of_queries(
    client, agency_a, agency_b, django_assert_num_queries, duties
):
    registry = Registry.create()
    for i in range(duties):
        registry.stage(f"03-12-{i + 1:04d}", f"职责{i}", agency_a, cooperating=(agency_b,))
    registry.publish()
    # list, latest edition, agencies for the filter, counts, structure, page count, rows, participations
    with django_assert_num_queries(8):
        response = client.get(list_url())
    assert response.context["total"] == duties


# --- A duty, as of a date, and editions ------------------------------------------------------------------


@pytest.fixture
def two_editions(agency_a: Agency, agency_b: Agency, agency_c: Agency) -> Registry:
    """Edition 1 on 2024-01-10: 占道经营 led by A. Edition 2 on 2024-03-01: led by C, 乱贴乱画 removed and
    a new duty added."""
    registry = Registry.create()
    with time_machine.travel(at("2024-01-10"), tick=False):
        registry.stage("03-12-0001", "占道经营", agency_a)
        registry.stage("03-12-0002", "乱贴乱画", agency_a)
        registry.publish("首次发布")
    with time_machine.travel(at("2024-03-01"), tick=False):
        registry.stage("03-12-0001", "占道经营", agency_c, source_ref="arbitration.ruling:12")
        registry.remove("03-12-0002")
        registry.stage("05-01-0001", "社会生活噪声", agency_b)
        registry.publish("调整占道经营牵头部门")
    return registry


def test_duty_page_shows_everything_the_list_says(client, registry: Registry) -> None:
    response = client.get(duty_url("03-12-0001"))
    assert response.status_code == 200
    html = response.content.decode()
    for text in ("占道经营", "03-12-0001", "城市管理", "市容环境", "区综合执法局", "负责占道经营的查处"):
        assert text in html
    assert "区市监局" in html and "配合提供信息" in html  # cooperating agency and its responsibility
    assert "《城市市容和环境卫生管理条例》" in html and "第十四条" in html and "国务院令第101号" in html
    assert "摆摊" in html
    assert len(response.context["history"]) == 1


def test_unpublished_duty_is_not_public(client, registry: Registry, agency_a: Agency) -> None:
    registry.stage("03-12-0009", "尚未发布", agency_a)
    assert client.get(duty_url("03-12-0009")).status_code == 404


def test_duty_history_and_the_ruling_that_last_changed_it(client, two_editions: Registry) -> None:
    response = client.get(duty_url("03-12-0001"))
    assert response.context["revision"].lead.agency.code == "C-zjj"
    history = response.context["history"]
    assert [e.revision.edition.number for e in history] == [2, 1]
    assert [e.lead.agency.code for e in history] == ["C-zjj", "A-zhzf"]
    assert history[0].lead_changed and not history[1].lead_changed
    html = response.content.decode()
    # named for a person, not as the stored reference (no ruling #12 exists here, so there is no link)
    assert "裁决 #12" in html and "arbitration.ruling:12" not in html
    assert response.context["ruling_ref"] == "arbitration.ruling:12"


def test_as_of_shows_the_lead_of_the_time(client, two_editions: Registry) -> None:
    before = client.get(list_url(), {"as_of": "2024-02-01"})
    revisions = {r.code: r for c in before.context["tree"] for n in c.classifications for r in n.revisions}
    assert set(revisions) == {"03-12-0001", "03-12-0002"}
    assert revisions["03-12-0001"].lead.agency.code == "A-zhzf"

    now = client.get(list_url())
    revisions = {r.code: r for c in now.context["tree"] for n in c.classifications for r in n.revisions}
    assert set(revisions) == {"03-12-0001", "05-01-0001"}
    assert revisions["03-12-0001"].lead.agency.code == "C-zjj"

    assert client.get(list_url(), {"as_of": "2023-12-31"}).context["total"] == 0
    duty = client.get(duty_url("03-12-0001"), {"as_of": "2024-02-01"})
    assert duty.context["revision"].lead.agency.code == "A-zhzf"
    assert "区综合执法局" in duty.content.decode()


def test_removed_duty_page_says_so(client, two_editions: Registry) -> None:
    response = client.get(duty_url("03-12-0002"))
    assert response.status_code == 200 and response.context["not_in_force"]


def test_edition_list_and_first_edition_adds_everything(client, two_editions: Registry) -> None:
    html = client.get(reverse("duty_lists:edition_list", kwargs={"code": LIST_CODE})).content.decode()
    assert "首次发布" in html and "调整占道经营牵头部门" in html
    first = client.get(reverse("duty_lists:edition_detail", kwargs={"code": LIST_CODE, "number": 1}))
    diff = first.context["diff"]
    assert [c.code for c in diff.added] == ["03-12-0001", "03-12-0002"]
    assert not diff.changed and not diff.removed


def test_edition_page_shows_added_changed_removed_and_the_new_lead(client, two_editions: Registry) -> None:
    response = client.get(reverse("duty_lists:edition_detail", kwargs={"code": LIST_CODE, "number": 2}))
    diff = response.context["diff"]
    assert [c.code for c in diff.added] == ["05-01-0001"]
    assert [c.code for c in diff.removed] == ["03-12-0002"]
    [change] = diff.changed
    assert change.code == "03-12-0001" and change.lead_changed and "lead" in change.fields
    assert change.old.lead.agency.code == "A-zhzf" and change.new.lead.agency.code == "C-zjj"
    html = response.content.decode()
    assert "is-lead-change" in html and "区住建局" in html


def test_edition_diff_ignores_a_republished_identical_revision(two_editions: Registry, agency_c) -> None:
    registry = two_editions
    registry.stage("03-12-0001", "占道经营", agency_c, source_ref="arbitration.ruling:12")  # same text
    registry.stage("05-01-0001", "社会生活噪声（含装修噪声）", agency_c)
    third = registry.publish()
    second = Edition.objects.get(duty_list=registry.duty_list, number=2)
    diff = edition_diff(revisions_at_edition(second), revisions_at_edition(third))
    assert [c.code for c in diff.changed] == ["05-01-0001"]
    assert set(diff.changed[0].fields) == {"title", "description", "lead"}
    assert not diff.added and not diff.removed


# --- Publishing ------------------------------------------------------------------------------------------


def test_officer_sees_what_is_pending_and_publishes(login, officer, registry: Registry, agency_c) -> None:
    registry.stage("03-12-0002", "乱贴乱画", agency_c)
    client = login(officer)
    url = reverse("duty_lists:edition_publish", kwargs={"code": LIST_CODE})
    page = client.get(url)
    assert page.status_code == 200
    assert [c.code for c in page.context["diff"].changed] == ["03-12-0002"]
    assert page.context["diff"].changed[0].lead_changed
    response = client.post(url, {"note": "第二版", "effective_date": "2024-05-01"})
    edition = Edition.objects.get(duty_list=registry.duty_list, number=2)
    assert response.status_code == 302 and response["Location"].endswith("/editions/2/")
    assert edition.note == "第二版" and str(edition.effective_date) == "2024-05-01"
    assert edition.published_by == officer


def test_publishing_with_nothing_pending_shows_the_reason(login, officer, registry: Registry) -> None:
    response = login(officer).post(reverse("duty_lists:edition_publish", kwargs={"code": LIST_CODE}), {})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert Edition.objects.filter(duty_list=registry.duty_list).count() == 1


def test_staff_cannot_publish(login, member_a, registry: Registry, agency_c) -> None:
    registry.stage("03-12-0002", "乱贴乱画", agency_c)
    client = login(member_a)
    url = reverse("duty_lists:edition_publish", kwargs={"code": LIST_CODE})
    assert client.get(url).status_code == 403
    assert client.post(url, {"note": "x"}).status_code == 403
    assert Edition.objects.filter(duty_list=registry.duty_list).count() == 1


def test_publish_page_needs_a_signed_in_user(client, registry: Registry) -> None:
    response = client.get(reverse("duty_lists:edition_publish", kwargs={"code": LIST_CODE}))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_officer_sees_the_pending_count_on_the_list_page(login, officer, registry, agency_c) -> None:
    registry.stage("03-12-0002", "乱贴乱画", agency_c)
    response = login(officer).get(list_url())
    assert response.context["pending_count"] == 1
    assert reverse("duty_lists:edition_publish", kwargs={"code": LIST_CODE}) in response.content.decode()


def test_end_of_day_is_local_and_inclusive() -> None:
    moment = views_browse.end_of_day(date(2024, 3, 1))
    assert moment.tzinfo is not None
    assert moment + timedelta(microseconds=1) == datetime(2024, 3, 2, tzinfo=SHANGHAI)
