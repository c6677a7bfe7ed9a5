"""The amendment screens: the work queue, the proposal form, the detail page and its buttons, and the whole
walk from a proposal to the public duty page, through real URLs; then the rows each request left behind."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from duty_lists.models import (
    Agency,
    Amendment,
    AmendmentEvent,
    AmendmentState,
    Duty,
    DutyRevision,
    JointReviewOpinion,
)
from duty_lists.proposals import DutyContent, ParticipantSpec
from duty_lists.services import amendment_create, amendment_pass_legal_review, amendment_submit
from tests.factories import AgencyFactory
from tests.test_browse_pages import LIST_CODE, Registry, duty_url

S = AmendmentState
DUTY = "03-12-0001"


@pytest.fixture
def agency_c(db: None) -> Any:
    return AgencyFactory(code="C-zjj", name="区住房和城乡建设局", short_name="区住建局")


@pytest.fixture
def registry(agency_a: Agency, agency_b: Agency) -> Registry:
    """Duty 03-12-0001 led by agency A; agency B is the list's joint reviewing agency."""
    registry = Registry.create(reviewing=(agency_b,))
    registry.stage(DUTY, "占道经营", agency_a)
    registry.stage("03-12-0002", "乱贴乱画", agency_a)
    registry.publish()
    return registry


@pytest.fixture
def private_registry(agency_a: Agency, agency_c: Agency) -> Registry:
    """A list agency B neither leads anything in nor reviews: its drafts are none of B's business."""
    registry = Registry.create(reviewing=(agency_c,), code="other")
    registry.stage(DUTY, "占道经营", agency_a)
    registry.publish()
    return registry


def new_url(**params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{reverse('duty_lists:amendment_new')}?{query}"


def detail_url(amendment: Amendment) -> str:
    return reverse("duty_lists:amendment_detail", kwargs={"pk": amendment.pk})


def step_url(amendment: Amendment, step: str) -> str:
    return reverse("duty_lists:amendment_step", kwargs={"pk": amendment.pk, "step": step})


def form_data(response: Any) -> dict[str, Any]:
    """What a browser would post back unchanged: every field of the rendered proposal forms, as shown."""
    forms = response.context["forms"]
    data: dict[str, Any] = {}

    def add(form: Any) -> None:
        for field in form:
            value = field.value()
            data[field.html_name] = "" if value is None else value

    add(forms.form)
    for formset in (forms.cooperating, forms.legal_bases):
        add(formset.management_form)
        for row in formset.forms:
            add(row)
    return data


def draft_transfer(registry: Registry, member_a: Any, agency_a: Agency, agency_c: Agency) -> Amendment:
    """A draft transfer of 占道经营 from A to C, made by A's staff through the service."""
    current = DutyRevision.objects.get(duty__code=DUTY, duty_list=registry.duty_list, valid_until=None)
    content = DutyContent.from_revision(current)
    content.participants = [ParticipantSpec(agency_c.code, "lead", "负责查处")]
    return amendment_create(
        actor=member_a,
        duty_list=registry.duty_list,
        kind="transfer",
        proposing_agency=agency_a,
        justification="占道经营的源头在施工围挡，由住建局牵头更顺。",
        duty=Duty.objects.get(duty_list=registry.duty_list, code=DUTY),
        proposal=content.to_dict(),
    )


# --- The whole walk --------------------------------------------------------------------------------------


def test_an_amendment_walks_from_proposal_to_the_public_duty_page(
    login, client, member_a, member_b, legal_reviewer, officer, registry, agency_c
) -> None:
    staff: Client = login(member_a)

    # 1. Agency A's staff open the form from the duty: it starts from the text in force.
    page = staff.get(new_url(list=LIST_CODE, duty=DUTY, kind="transfer"))
    assert page.status_code == 200
    form = page.context["forms"].form
    assert form["title"].value() == "占道经营" and form["lead_agency"].value() == "A-zhzf"
    assert form["classification"].value() == "03-12"
    data = form_data(page)
    data |= {
        "lead_agency": agency_c.code,
        "lead_responsibility": "负责施工围挡周边占道经营的查处",
        "justification": "占道经营多发于施工围挡周边，由住建局牵头。",
        "coop-0-agency": "A-zhzf",
        "coop-0-responsibility": "配合开展联合执法",
    }
    response = staff.post(new_url(list=LIST_CODE, duty=DUTY, kind="transfer"), data)
    amendment = Amendment.objects.get()
    assert response.status_code == 302 and response["Location"] == detail_url(amendment)
    assert amendment.state == S.DRAFT and amendment.kind == "transfer"
    assert amendment.proposal["participants"][0] == {
        "agency": "C-zjj",
        "role": "lead",
        "responsibility": "负责施工围挡周边占道经营的查处",
    }
    assert amendment.proposal["participants"][1]["agency"] == "A-zhzf"

    # The detail page compares the proposal with the text in force and offers the proposer's steps.
    detail = staff.get(detail_url(amendment))
    rows = {row.name: row for row in detail.context["rows"]}
    assert rows["lead"].changed and rows["cooperating"].changed and not rows["title"].changed
    assert [s["name"] for s in detail.context["steps"]] == ["submit", "withdraw"]

    # 2. Submit → 3. the legal reviewer passes it → 4. the reviewing agency concurs.
    assert staff.post(step_url(amendment, "submit")).status_code == 302
    amendment.refresh_from_db()
    assert amendment.state == S.LEGAL_REVIEW

    legal = login(legal_reviewer)
    assert [s["name"] for s in legal.get(detail_url(amendment)).context["steps"]] == [
        "pass_legal_review",
        "return",
    ]
    assert legal.post(step_url(amendment, "pass_legal_review"), {"reason": "合法"}).status_code == 302
    amendment.refresh_from_db()
    assert amendment.state == S.JOINT_REVIEW

    officer_client = login(officer)
    waiting = officer_client.get(detail_url(amendment))
    assert [a.code for a in waiting.context["missing"]] == ["B-sjj"]
    assert "approve" not in [s["name"] for s in waiting.context["steps"]]  # not before every concurrence

    reviewer = login(member_b)
    review_page = reviewer.get(detail_url(amendment))
    assert [agency.code for agency, _form, _mine in review_page.context["opinion_forms"]] == ["B-sjj"]
    opinion_url = reverse("duty_lists:amendment_opinion", kwargs={"pk": amendment.pk})
    assert (
        reviewer.post(opinion_url, {"agency": "B-sjj", "concurs": "yes", "opinion": "同意"}).status_code
        == 302
    )
    assert JointReviewOpinion.objects.get(amendment=amendment).concurs

    # 5. The officer approves: the change is staged as the duty's pending revision.
    assert "approve" in [s["name"] for s in officer_client.get(detail_url(amendment)).context["steps"]]
    assert officer_client.post(step_url(amendment, "approve")).status_code == 302
    amendment.refresh_from_db()
    assert amendment.state == S.APPROVED and amendment.pending_revision is not None

    # 6. The officer publishes the next edition.
    publish_url = reverse("duty_lists:edition_publish", kwargs={"code": LIST_CODE})
    pending = officer_client.get(publish_url)
    assert [c.code for c in pending.context["diff"].changed] == [DUTY]
    assert officer_client.post(publish_url, {"note": "调整占道经营牵头部门"}).status_code == 302
    amendment.refresh_from_db()
    assert amendment.state == S.PUBLISHED
    assert amendment.published_in is not None and amendment.published_in.number == 2

    # 7. The public duty page shows the new lead, and the history names the amendment and its reason.
    public = client.get(duty_url(DUTY))
    assert public.context["revision"].lead.agency.code == "C-zjj"
    html = public.content.decode()
    assert "区住房和城乡建设局" in html and "负责施工围挡周边占道经营的查处" in html
    newest = public.context["history"][0]
    assert newest.revision.amendment == amendment and newest.lead_changed
    assert f"#{amendment.pk}" in html and "占道经营多发于施工围挡周边" in html
    assert list(AmendmentEvent.objects.filter(amendment=amendment).values_list("action", flat=True)) == [
        "create",
        "submit",
        "pass_legal_review",
        "concur",
        "approve",
        "publish",
    ]

    # The published amendment's page now compares with the text before publication.
    after = staff.get(detail_url(amendment))
    assert after.context["is_prior_text"] and after.context["before_revision"].lead.agency.code == "A-zhzf"
    assert not after.context["steps"]


# --- The queue -------------------------------------------------------------------------------------------


def test_queue_shows_each_person_what_waits_for_them(
    login, member_a, member_b, legal_reviewer, officer, registry, agency_a, agency_c
) -> None:
    draft = draft_transfer(registry, member_a, agency_a, agency_c)
    in_legal = draft_transfer(registry, member_a, agency_a, agency_c)
    amendment_submit(actor=member_a, amendment=in_legal)
    in_joint = draft_transfer(registry, member_a, agency_a, agency_c)
    amendment_submit(actor=member_a, amendment=in_joint)
    amendment_pass_legal_review(actor=legal_reviewer, amendment=in_joint)
    url = reverse("duty_lists:amendment_queue")

    def queue(user: Any, **params: str) -> set[int]:
        return {a.pk for a in login(user).get(url, params).context["page"].object_list}

    assert queue(member_a) == {draft.pk, in_legal.pk, in_joint.pk}  # their agency's open amendments
    assert queue(legal_reviewer) == {in_legal.pk}
    assert queue(officer) == {in_legal.pk, in_joint.pk}
    assert queue(member_b) == {in_joint.pk}  # agency B sits on the joint review
    assert queue(officer, state="draft") == {draft.pk}
    assert queue(officer, state="all") == {draft.pk, in_legal.pk, in_joint.pk}


def test_amendment_pages_need_a_signed_in_user(client, registry, member_a, agency_a, agency_c) -> None:
    amendment = draft_transfer(registry, member_a, agency_a, agency_c)
    for url in (reverse("duty_lists:amendment_queue"), new_url(), detail_url(amendment)):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


# --- Refusals --------------------------------------------------------------------------------------------


def test_outsider_cannot_see_another_agencys_draft(
    login, member_a, member_b, private_registry, agency_a, agency_c
) -> None:
    amendment = draft_transfer(private_registry, member_a, agency_a, agency_c)
    outsider = login(member_b)
    assert outsider.get(detail_url(amendment)).status_code == 404
    assert outsider.post(step_url(amendment, "submit")).status_code == 404
    assert outsider.get(reverse("duty_lists:amendment_edit", kwargs={"pk": amendment.pk})).status_code == 404
    assert amendment.pk not in {
        a.pk for a in outsider.get(reverse("duty_lists:amendment_queue"), {"state": "all"}).context["page"]
    }
    amendment.refresh_from_db()
    assert amendment.state == S.DRAFT


def test_reviewing_agency_staff_may_read_but_not_act_for_the_proposer(
    login, member_a, member_b, legal_reviewer, registry, agency_a, agency_c
) -> None:
    amendment = draft_transfer(registry, member_a, agency_a, agency_c)
    reviewer = login(member_b)
    # another agency's draft is not the reviewing agency's business until it reaches the joint review
    assert reviewer.get(detail_url(amendment)).status_code == 404
    assert reviewer.post(step_url(amendment, "submit")).status_code == 404
    amendment_submit(actor=member_a, amendment=amendment)
    amendment_pass_legal_review(actor=legal_reviewer, amendment=amendment)
    page = reviewer.get(detail_url(amendment))
    assert page.status_code == 200 and not page.context["may_edit"]
    assert [step for step in page.context["steps"] if step != "opinion"] == []
    assert reviewer.post(step_url(amendment, "withdraw"), {"reason": "x"}).status_code == 403
    assert reviewer.get(reverse("duty_lists:amendment_edit", kwargs={"pk": amendment.pk})).status_code == 403
    amendment.refresh_from_db()
    assert amendment.state == S.JOINT_REVIEW
    assert not AmendmentEvent.objects.filter(amendment=amendment, actor=member_b).exists()


def test_a_legal_reviewer_cannot_approve(
    login, member_a, member_b, legal_reviewer, registry, agency_a, agency_b, agency_c
) -> None:
    amendment = draft_transfer(registry, member_a, agency_a, agency_c)
    amendment_submit(actor=member_a, amendment=amendment)
    amendment_pass_legal_review(actor=legal_reviewer, amendment=amendment)
    login(member_b).post(
        reverse("duty_lists:amendment_opinion", kwargs={"pk": amendment.pk}),
        {"agency": agency_b.code, "concurs": "yes"},
    )
    response = login(legal_reviewer).post(step_url(amendment, "approve"))
    assert response.status_code == 403
    amendment.refresh_from_db()
    assert amendment.state == S.JOINT_REVIEW and amendment.pending_revision is None


def test_staff_cannot_give_an_opinion_for_an_agency_that_is_not_theirs(
    login, member_a, legal_reviewer, registry, agency_a, agency_b, agency_c
) -> None:
    amendment = draft_transfer(registry, member_a, agency_a, agency_c)
    amendment_submit(actor=member_a, amendment=amendment)
    amendment_pass_legal_review(actor=legal_reviewer, amendment=amendment)
    response = login(member_a).post(
        reverse("duty_lists:amendment_opinion", kwargs={"pk": amendment.pk}),
        {"agency": agency_b.code, "concurs": "yes"},
    )
    assert response.status_code == 403
    assert not JointReviewOpinion.objects.exists()


def test_returning_needs_a_reason_shown_on_its_field(
    login, member_a, officer, registry, agency_a, agency_c
) -> None:
    amendment = draft_transfer(registry, member_a, agency_a, agency_c)
    amendment_submit(actor=member_a, amendment=amendment)
    client = login(officer)
    response = client.post(step_url(amendment, "return"), {"reason": "  "})
    assert response.status_code == 400
    step = next(s for s in response.context["steps"] if s["name"] == "return")
    assert step["reason_form"].errors["reason"]
    amendment.refresh_from_db()
    assert amendment.state == S.LEGAL_REVIEW
    assert client.post(step_url(amendment, "return"), {"reason": "依据不足"}).status_code == 302
    amendment.refresh_from_db()
    assert amendment.state == S.RETURNED
    assert AmendmentEvent.objects.get(amendment=amendment, action="return").reason == "依据不足"


def test_an_objection_needs_remarks(login, member_a, member_b, legal_reviewer, registry, agency_a, agency_c):
    amendment = draft_transfer(registry, member_a, agency_a, agency_c)
    amendment_submit(actor=member_a, amendment=amendment)
    amendment_pass_legal_review(actor=legal_reviewer, amendment=amendment)
    url = reverse("duty_lists:amendment_opinion", kwargs={"pk": amendment.pk})
    response = login(member_b).post(url, {"agency": "B-sjj", "concurs": "no", "opinion": ""})
    assert response.status_code == 400
    [(_agency, form, _mine)] = response.context["opinion_forms"]
    assert form.errors["opinion"]
    assert not JointReviewOpinion.objects.exists()


def test_an_invalid_step_for_the_state_is_a_message_not_a_crash(
    login, officer, member_a, registry, agency_a, agency_c
) -> None:
    amendment = draft_transfer(registry, member_a, agency_a, agency_c)
    response = login(officer).post(step_url(amendment, "approve"), follow=True)
    assert response.status_code == 200
    assert any(m.level_tag == "error" for m in response.context["messages"])
    amendment.refresh_from_db()
    assert amendment.state == S.DRAFT


# --- The form's errors -----------------------------------------------------------------------------------


def test_form_errors_show_on_their_fields_and_nothing_is_saved(login, member_a, registry) -> None:
    staff = login(member_a)
    url = new_url(list=LIST_CODE, duty=DUTY, kind="change")
    data = form_data(staff.get(url))
    data |= {"title": "", "lead_agency": "", "justification": "标题需要修改"}
    response = staff.post(url, data)
    assert response.status_code == 200
    forms = response.context["forms"]
    assert forms.form.errors["title"]
    assert forms.group_errors["participants"]  # "exactly one lead", shown with the agencies
    html = response.content.decode()
    assert '<ul class="field__errors" id="id_title_error">' in html  # what the input's aria-describedby names
    assert not Amendment.objects.exists() and not AmendmentEvent.objects.exists()


def test_a_missing_justification_is_shown_on_its_field(login, member_a, registry) -> None:
    staff = login(member_a)
    url = new_url(list=LIST_CODE, duty=DUTY, kind="change")
    data = form_data(staff.get(url)) | {"justification": "", "title": "占道经营（含流动摊贩）"}
    response = staff.post(url, data)
    assert response.context["forms"].form.errors["justification"]
    assert not Amendment.objects.exists()


def test_a_transfer_that_keeps_the_lead_is_refused_on_the_lead_field(login, member_a, registry) -> None:
    staff = login(member_a)
    url = new_url(list=LIST_CODE, duty=DUTY, kind="transfer")
    response = staff.post(url, form_data(staff.get(url)) | {"justification": "转移"})
    assert response.context["forms"].form.errors["lead_agency"]
    assert not Amendment.objects.exists()


def test_the_start_step_checks_the_duty(login, member_a, registry) -> None:
    response = login(member_a).get(new_url(list=LIST_CODE, duty="99-99-9999", kind="change"))
    assert response.status_code == 200
    assert response.context["start"].errors["duty"] and response.context["forms"] is None


def test_people_without_an_agency_role_cannot_propose(login, legal_reviewer, registry) -> None:
    assert login(legal_reviewer).get(new_url(list=LIST_CODE, kind="add")).status_code == 403


def test_a_new_duty_is_proposed_and_approved_into_a_new_code(
    login, member_a, member_b, legal_reviewer, officer, registry
) -> None:
    staff = login(member_a)
    url = new_url(list=LIST_CODE, kind="add", classification="03-12")
    page = staff.get(url)
    assert page.context["forms"].form["lead_agency"].value() == "A-zhzf"  # their own agency, to start with
    data = form_data(page) | {
        "title": "夜间施工噪声",
        "justification": "新增夜间施工噪声投诉的处置职责",
        "lead_responsibility": "负责查处",
        "keywords": "夜间施工，噪声、扰民",
        "basis-0-title": "《中华人民共和国噪声污染防治法》",
        "basis-0-article": "第四十三条",
    }
    assert staff.post(url, data).status_code == 302
    amendment = Amendment.objects.get()
    assert amendment.duty is None and amendment.proposal["keywords"] == ["夜间施工", "噪声", "扰民"]
    assert amendment.proposal["legal_bases"] == [
        {"title": "《中华人民共和国噪声污染防治法》", "article": "第四十三条", "document_number": ""}
    ]
    staff.post(step_url(amendment, "submit"))
    login(legal_reviewer).post(step_url(amendment, "pass_legal_review"))
    login(member_b).post(
        reverse("duty_lists:amendment_opinion", kwargs={"pk": amendment.pk}),
        {"agency": "B-sjj", "concurs": "yes"},
    )
    login(officer).post(step_url(amendment, "approve"))
    amendment.refresh_from_db()
    assert amendment.state == S.APPROVED
    assert amendment.duty is not None and amendment.duty.code == "03-12-0003"
    detail = staff.get(detail_url(amendment))
    assert detail.status_code == 200 and detail.context["before_revision"] is None


def test_the_proposer_revises_a_returned_amendment(
    login, member_a, officer, registry, agency_a, agency_c
) -> None:
    amendment = draft_transfer(registry, member_a, agency_a, agency_c)
    amendment_submit(actor=member_a, amendment=amendment)
    login(officer).post(step_url(amendment, "return"), {"reason": "请补充法律依据"})
    staff = login(member_a)
    edit_url = reverse("duty_lists:amendment_edit", kwargs={"pk": amendment.pk})
    page = staff.get(edit_url)
    assert page.status_code == 200 and page.context["forms"].form["lead_agency"].value() == "C-zjj"
    data = form_data(page) | {"basis-1-title": "《住房和城乡建设行政处罚程序规定》"}
    assert staff.post(edit_url, data).status_code == 302
    amendment.refresh_from_db()
    assert [b["title"] for b in amendment.proposal["legal_bases"]][-1] == "《住房和城乡建设行政处罚程序规定》"
    assert [s["name"] for s in staff.get(detail_url(amendment)).context["steps"]] == ["submit", "withdraw"]


def test_a_removal_needs_only_its_reason(login, member_a, registry) -> None:
    staff = login(member_a)
    url = new_url(list=LIST_CODE, duty="03-12-0002", kind="remove")
    page = staff.get(url)
    assert page.status_code == 200 and not page.context["needs_content"]
    response = staff.post(url, {"proposing_agency": "A-zhzf", "justification": "该事项已并入03-12-0001"})
    amendment = Amendment.objects.get()
    assert response.status_code == 302 and amendment.kind == "remove" and amendment.proposal == {}
    detail = staff.get(detail_url(amendment))
    assert "03-12-0002" in detail.content.decode() and detail.context["before_revision"].title == "乱贴乱画"


def test_a_preselected_list_shows_the_form_without_errors(login, member_a, registry) -> None:
    page = login(member_a).get(reverse("duty_lists:amendment_new"), {"list": registry.duty_list.code})
    assert page.status_code == 200
    assert not page.context["start"].errors


def test_a_keyword_holding_an_enumeration_comma_survives_the_amendment_form() -> None:
    from duty_lists.forms import join_words, split_words

    for words in (["房产证登记、办理"], ["房产证登记、办理", "住房保障"], ["占道经营", "流动摊贩"]):
        assert split_words(join_words(words)) == words
    assert join_words(["占道经营", "流动摊贩"]) == "占道经营、流动摊贩"  # the short form where it is safe
    assert split_words("占道经营，流动摊贩;夜市") == ["占道经营", "流动摊贩", "夜市"]
    assert split_words("房产证登记、办理\r\n住房保障") == ["房产证登记、办理", "住房保障"]
