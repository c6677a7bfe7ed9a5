"""The lists of disputes (an agency's own, everything for the editorial office), the work queue, and the
filing form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from arbitration import selectors
from arbitration.filters import DisputeFilter, narrow
from arbitration.forms import DisputeFileForm, DisputeFilterForm
from arbitration.models import Dispute, DisputeKind, DisputeState, Domain, OfficeStep, Outcome, Stage, Urgency
from arbitration.services import dispute_file
from arbitration.views.common import Countdown, Countdowns, active_agencies, refuse_if_forbidden, with_parties
from arbitration.views.paging import ListPaginator
from core.errors import ApplicationError
from duty_lists import permissions
from duty_lists import selectors as registry
from duty_lists.models import Agency, Role

PAGE_SIZE = 50
# The service's field names that the form calls otherwise.
FORM_FIELD = {"duties": "duty_codes"}


@dataclass
class Row:
    """One dispute of a list, with what its table row shows already worked out: the list pages show fifty
    of them, and a template resolving each label, link and date itself costs more than the queries (see
    bench/lists.py)."""

    dispute: Dispute
    countdown: Countdown
    url: str = ""
    css: str = ""  # the row's classes: is-overdue / is-soon, is-urgent
    urgency: str = ""  # the label of an urgency other than normal
    meta: str = ""  # kind · domain
    stage: str = ""
    office_step: str = ""  # shown while the dispute is open
    paused: str = ""  # the state's label, when paused
    outcome: str = ""  # the outcome's label, when closed
    filer_name: str = ""
    respondent_names: list[str] = field(default_factory=list)
    filed_on: str = ""
    deadline_iso: str = ""
    deadline_text: str = ""

    @property
    def filer(self) -> Agency:
        return self.dispute.filing_agency

    @property
    def respondents(self) -> list[Agency]:
        return [p.agency for p in self.dispute.parties.all() if p.agency_id != self.dispute.filing_agency_id]


def _labels(choices: Any) -> dict[str, str]:
    return {value: str(label) for value, label in choices}


def rows(disputes: Any) -> list[Row]:
    disputes = list(disputes)
    countdowns = Countdowns()
    countdowns.prime(disputes)
    kinds, stages = _labels(DisputeKind.choices), _labels(Stage.choices)
    steps, urgencies, outcomes = (
        _labels(OfficeStep.choices),
        _labels(Urgency.choices),
        _labels(Outcome.choices),
    )
    paused = str(DisputeState.PAUSED.label)
    result = []
    for d in disputes:
        countdown = countdowns.of(d)
        tone = "is-overdue" if countdown.is_overdue else "is-soon" if countdown.tone == "soon" else ""
        at = timezone.localtime(countdown.at) if countdown.at else None
        closed = d.state == DisputeState.CLOSED
        result.append(
            Row(
                d,
                countdown,
                url=reverse("arbitration:dispute_detail", kwargs={"pk": d.pk}),
                css=tone + (" is-urgent" if d.urgency == Urgency.URGENT else ""),
                urgency="" if d.urgency == Urgency.NORMAL else urgencies.get(d.urgency, d.urgency),
                meta=f"{kinds.get(d.kind, d.kind)} · {d.domain.name}",
                stage=stages.get(d.stage, d.stage),
                office_step="" if closed else steps.get(d.office_step, d.office_step),
                paused=paused if d.state == DisputeState.PAUSED else "",
                outcome=outcomes.get(d.outcome, d.outcome) if closed else "",
                filer_name=d.filing_agency.short_name or d.filing_agency.name,
                respondent_names=[
                    p.agency.short_name or p.agency.name
                    for p in d.parties.all()
                    if p.agency_id != d.filing_agency_id
                ],
                filed_on=timezone.localtime(d.created_at).strftime("%Y-%m-%d"),
                deadline_iso=at.isoformat() if at else "",
                deadline_text=at.strftime("%Y-%m-%d %H:%M") if at else "",
            )
        )
    return result


def may_file(user: Any) -> bool:
    return bool(user.is_superuser or permissions.agencies_of(user) or permissions.is_editorial_officer(user))


def _is_overseer(user: Any) -> bool:
    return bool(user.is_superuser or permissions.has_any_role(user, selectors.OVERSEERS))


# --- Lists -----------------------------------------------------------------------------------------------


@login_required
def dispute_list(request: HttpRequest) -> HttpResponse:
    """Agency staff: the disputes their agency is a party to. The editorial office, leaders and legal
    reviewers: every dispute."""
    user = request.user
    form = DisputeFilterForm(request.GET or None, stages=list(Stage.choices))
    disputes: QuerySet[Dispute] = selectors.disputes_visible_to(user)
    state = "open"
    if form.is_valid():
        data = form.cleaned_data
        state = data["state"] or "open"
        # The API's filters, the same: "overdue" is what each row's badge says (arbitration.filters).
        disputes = narrow(DisputeFilter, disputes, {k: data[k] for k in ("q", "stage", "overdue")})
    if state == "open":
        disputes = disputes.exclude(state=DisputeState.CLOSED).order_by("deadline_at", "pk")
    elif state == "closed":
        disputes = disputes.filter(state=DisputeState.CLOSED).order_by("-closed_at", "-pk")
    else:
        disputes = disputes.order_by("-created_at", "-pk")
    page = ListPaginator(with_parties(disputes), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "rows": rows(page.object_list),
        "state": state,
        "may_file": may_file(user),
        "is_overseer": _is_overseer(user),
        "has_queue": _has_queue(user),
    }
    return render(request, "arbitration/dispute_list.html", context)


def _has_queue(user: Any) -> bool:
    return bool(
        permissions.has_any_role(user, {Role.EDITORIAL_OFFICER, Role.LEADER, Role.LEGAL_REVIEWER})
        or permissions.agencies_of(user)
    )


@login_required
def work_queue(request: HttpRequest) -> HttpResponse:
    """What waits for this person, soonest deadline first: the editorial office's stage for officers,
    leadership's for leaders, the disputes awaiting legal review for legal reviewers, their agency's
    open disputes for staff."""
    user = request.user
    disputes = selectors.work_queue(user)
    role = "staff"
    if permissions.is_editorial_officer(user):
        role = "officer"
    elif permissions.is_leader(user):
        role = "leader"
    elif permissions.is_legal_reviewer(user):
        # The selector gives legal reviewers every open dispute; what waits for them is the review step.
        role = "legal"
        disputes = disputes.filter(stage=Stage.EDITORIAL_OFFICE, office_step=OfficeStep.REVIEW)
    page = Paginator(with_parties(disputes), PAGE_SIZE).get_page(request.GET.get("page"))
    queue_rows = rows(page.object_list)
    context = {
        "page": page,
        "rows": queue_rows,
        "role": role,
        "overdue_count": sum(r.countdown.is_overdue for r in queue_rows),
        "may_file": may_file(user),
    }
    return render(request, "arbitration/queue.html", context)


# --- Filing ----------------------------------------------------------------------------------------------


def _filing_agencies(user: Any, agencies: list[Agency]) -> list[Agency]:
    """On whose behalf this person may file: staff for their own agencies; the editorial office for any
    (it files when it finds a gap itself)."""
    if user.is_superuser or permissions.is_editorial_officer(user):
        return agencies
    own = permissions.agencies_of(user)
    return [a for a in agencies if a.pk in own]


@login_required
def dispute_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not may_file(user):
        raise PermissionDenied(_("Only agency staff and the editorial office file disputes."))
    agencies = active_agencies()
    filing = _filing_agencies(user, agencies)
    if len(filing) == 1:  # nobody disputes with their own agency: leave it out of the other agencies
        agencies = [a for a in agencies if a != filing[0]]
    form = DisputeFileForm(
        request.POST if request.method == "POST" else None,
        filing_agencies=filing,
        agencies=agencies,
        duty_lists=registry.duty_lists_public(),
        domains=Domain.objects.filter(is_active=True).order_by("name"),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            dispute = dispute_file(
                actor=user,
                title=data["title"],
                description=data["description"],
                kind=data["kind"],
                domain=data["domain_obj"],
                filing_agency=data["filing_agency_obj"],
                respondents=data["respondent_objs"],
                urgency=data["urgency"],
                duties=data["duties"],
                evidence_links=data["evidence_links"],
            )
        except ApplicationError as error:
            refuse_if_forbidden(error)
            form.add_error(None, error.message)
            for key, value in error.extra.items():
                field = FORM_FIELD.get(key, key)
                for message in value if isinstance(value, list) else [value]:
                    form.add_error(field if field in form.fields else None, str(message))
        else:
            messages.success(
                request,
                _("Dispute #%(id)d is filed. The negotiation between the agencies starts now.")
                % {"id": dispute.pk},
            )
            return redirect("arbitration:dispute_detail", pk=dispute.pk)
    agency_groups = _respondent_groups(agencies, form)
    return render(request, "arbitration/dispute_new.html", {"form": form, "agency_groups": agency_groups})


def _respondent_groups(agencies: list[Agency], form: DisputeFileForm) -> list[tuple[str, list[Any]]]:
    """The respondent checkboxes grouped by level, each with whether it is ticked."""
    from arbitration.forms import agency_groups

    chosen = set(form["respondents"].value() or [])
    by_code = {a.code: a for a in agencies}
    return [
        (label, [(by_code[code], code in chosen) for code, _name in options])
        for label, options in agency_groups(agencies)
    ]
