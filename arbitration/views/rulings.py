"""Rulings in the browser: the public list and page of each ruling, and the ruling form.

The list and the page show what ``/api/v1/rulings/`` shows, to the same people: an issued ruling is public
unless marked internal, and an internal one is seen by those who see its dispute
(``selectors.rulings_visible_to``); any other ruling is a 404, as in the API.

The form, in its three uses: the editorial office's ruling (裁决), leadership's decision, and the office's
confirmation of an agreement the parties reported. One form, one ``ruling_issue`` call. A ruling on a class
of matters drafts an amendment to the duty list inside the same transaction; if the registry refuses the
change, nothing of the ruling is kept and the officer sees why on this form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from arbitration import selectors
from arbitration.filters import RulingFilter, narrow
from arbitration.forms import CooperatingFormSet, FollowUpFormSet, RulingForm, agency_groups
from arbitration.models import Dispute, Ruling, RulingKind, RulingScope, Stance
from arbitration.services import FollowUpSpec, NewDuty, ruling_issue
from arbitration.views.common import (
    active_agencies,
    agency_choices,
    refuse_if_forbidden,
    user_names,
    visible_dispute,
)
from arbitration.views.detail import may_issue, ruling_open
from core.errors import ApplicationError
from core.forms import StyledForm
from duty_lists import selectors as registry
from duty_lists.models import Agency, Classification

PAGE_SIZE = 50

TITLES = {
    RulingKind.RULING: gettext_lazy("Issue the ruling"),
    RulingKind.DECISION: gettext_lazy("Record leadership's decision"),
    RulingKind.AGREEMENT: gettext_lazy("Confirm the parties' agreement"),
}
LEADS = {
    RulingKind.RULING: gettext_lazy(
        "The ruling designates the lead agency and the cooperating agencies and closes the dispute. "
        "It is recorded for good: a correction is a new ruling."
    ),
    RulingKind.DECISION: gettext_lazy(
        "Leadership's decision designates the lead agency and the cooperating agencies "
        "and closes the dispute."
    ),
    RulingKind.AGREEMENT: gettext_lazy(
        "Record what the parties agreed, as the editorial office confirms it. This closes the dispute."
    ),
}
DONE = {
    RulingKind.RULING: gettext_lazy("The ruling is issued and the dispute is closed."),
    RulingKind.DECISION: gettext_lazy("Leadership's decision is recorded and the dispute is closed."),
    RulingKind.AGREEMENT: gettext_lazy("The agreement is confirmed and the dispute is closed."),
}
# Where the services' error keys go on this page (the registry's duty fields are the new duty's).
FIELD_OF = {
    "classification": "new_duty_classification",
    "title": "new_duty_title",
    "description": "new_duty_description",
    "new_duty": "new_duty_classification",
    "lead_agency": "lead_agency",
    "not_in_force": None,
}
GROUP_OF = {"cooperating": "cooperating", "participants": "cooperating", "follow_ups": "follow_ups"}


@dataclass
class RulingForms:
    form: RulingForm
    cooperating: Any
    follow_ups: Any
    agencies: dict[str, Agency]
    group_errors: dict[str, list[str]] = field(default_factory=lambda: {"cooperating": [], "follow_ups": []})

    def is_valid(self) -> bool:
        results = [self.form.is_valid(), self.cooperating.is_valid(), self.follow_ups.is_valid()]
        if results[1]:
            # ``ruling_issue`` does not check this and the database refuses it (one row per agency): say it
            # here rather than let the constraint fail the request.
            codes = [row["agency"] for row in self.cooperating.cleaned_data if row.get("agency")]
            if len(codes) != len(set(codes)):
                self.group_errors["cooperating"].append(str(_("An agency appears twice.")))
                results.append(False)
        return all(results)  # every form evaluated, so every error shows at once

    def cooperating_agencies(self) -> list[tuple[Agency, str]]:
        return [
            (self.agencies[row["agency"]], (row.get("responsibility") or "").strip())
            for row in self.cooperating.cleaned_data
            if row.get("agency")
        ]

    def follow_up_specs(self) -> list[FollowUpSpec]:
        return [
            FollowUpSpec(
                agency=self.agencies[row["agency"]],
                description=(row.get("description") or "").strip(),
                due_date=row["due_date"],
            )
            for row in self.follow_ups.cleaned_data
            if row.get("agency")
        ]

    def new_duty(self) -> NewDuty | None:
        data = self.form.cleaned_data
        if not (data.get("new_duty_classification") or data.get("new_duty_title", "").strip()):
            return None
        return NewDuty(
            classification=data.get("new_duty_classification") or "",
            title=data.get("new_duty_title", "").strip(),
            description=data.get("new_duty_description", "").strip(),
        )

    def place(self, error: ApplicationError) -> None:
        """Each ``extra`` entry on its field or group; the message itself at the top."""
        self.form.add_error(None, error.message)
        for key, value in error.extra.items():
            for message in value if isinstance(value, list) else [value]:
                name = FIELD_OF.get(key, key)
                if key in GROUP_OF:
                    self.group_errors[GROUP_OF[key]].append(str(message))
                elif name and name in self.form.fields:
                    self.form.add_error(name, str(message))
                else:
                    self.form.add_error(None, str(message))


def _initial(dispute: Dispute, kind: str) -> dict[str, Any]:
    """A confirmed agreement starts from what the parties reported and the agency that accepted."""
    if kind != RulingKind.AGREEMENT:
        return {}
    reported = dispute.events.filter(action="agreement_reported").order_by("-at", "-id").first()
    latest: dict[int, Any] = {}
    for position in dispute.positions.select_related("agency").order_by("agency", "version"):
        latest[position.agency_id] = position  # the newest version wins
    accepting = [p.agency.code for p in latest.values() if p.stance == Stance.ACCEPTS]
    initial: dict[str, Any] = {"rationale": reported.reason if reported else ""}
    if len(accepting) == 1:
        initial["lead_agency"] = accepting[0]
    return initial


def _ruling_forms(request: HttpRequest, dispute: Dispute, kind: str) -> RulingForms:
    agencies = active_agencies()
    parties = [p.agency for p in dispute.parties.all()]
    choices = agency_choices([a for a in agencies if a not in parties], first=parties)
    classifications: list[Classification] = []
    if not dispute.duties.exists():
        found = Classification.objects.select_related("duty_list", "category")
        if dispute.duty_list_id:
            found = found.filter(duty_list_id=dispute.duty_list_id)
        classifications = sorted(
            found, key=lambda c: (c.duty_list.code, c.category.position, c.category.code, c.position, c.code)
        )
    data = request.POST if request.method == "POST" else None
    form = RulingForm(
        data, initial=_initial(dispute, kind), agency_choices=choices, classifications=classifications
    )
    if not classifications:
        for name in ("new_duty_classification", "new_duty_title", "new_duty_description"):
            del form.fields[name]
    return RulingForms(
        form,
        CooperatingFormSet(data, prefix="coop", form_kwargs={"agency_choices": choices}),
        FollowUpFormSet(data, prefix="follow", form_kwargs={"agency_choices": choices}),
        {a.code: a for a in [*agencies, *parties]},
    )


@login_required
def ruling_new(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    user = request.user
    dispute = visible_dispute(request, pk)
    if not may_issue(user, kind):
        raise PermissionDenied(_("You may not issue this ruling."))
    detail_url = reverse("arbitration:dispute_detail", kwargs={"pk": dispute.pk})
    if not ruling_open(dispute, kind):
        messages.error(request, _("The dispute is not at the stage for this."))
        return redirect(detail_url)
    forms = _ruling_forms(request, dispute, kind)
    if request.method == "POST" and forms.is_valid():
        data = forms.form.cleaned_data
        try:
            ruling = ruling_issue(
                actor=user,
                dispute=dispute,
                kind=kind,
                lead_agency=forms.agencies[data["lead_agency"]],
                lead_responsibility=data["lead_responsibility"].strip(),
                rationale=data["rationale"].strip(),
                legal_bases=data["legal_bases"].strip(),
                keywords=re.split(r"[,，、;；\s]+", data["keywords"]),
                scope=data["scope"],
                effective_date=data["effective_date"],
                is_internal=data["is_internal"],
                cooperating=forms.cooperating_agencies(),
                follow_ups=forms.follow_up_specs(),
                new_duty=forms.new_duty(),
            )
        except ApplicationError as error:
            refuse_if_forbidden(error)
            forms.place(error)
        else:
            messages.success(request, str(DONE[RulingKind(kind)]))
            if ruling.amendment_id:
                messages.info(
                    request,
                    _("Amendment #%(id)d to the duty list is drafted and sent to legal review.")
                    % {"id": ruling.amendment_id},
                )
            return redirect(detail_url + "#rulings")
    context = {
        "dispute": dispute,
        "kind": kind,
        "title": TITLES[RulingKind(kind)],
        "lead": LEADS[RulingKind(kind)],
        "forms": forms,
        "has_new_duty": "new_duty_title" in forms.form.fields,
        "class_scope": RulingScope.CLASS,
    }
    return render(request, "arbitration/ruling_form.html", context)


# --- The list and the page of a ruling ---------------------------------------------------------------------


class RulingFilterForm(StyledForm):
    q = django_forms.CharField(
        label=gettext_lazy("Search"),
        required=False,
        max_length=100,
        help_text=gettext_lazy("Words of the dispute's title, the rationale or the legal bases."),
    )
    kind = django_forms.ChoiceField(label=gettext_lazy("Kind"), required=False)
    scope = django_forms.ChoiceField(label=gettext_lazy("Scope"), required=False)
    lead = django_forms.ChoiceField(label=gettext_lazy("Lead agency"), required=False)
    current = django_forms.BooleanField(label=gettext_lazy("Current only (not superseded)"), required=False)

    def __init__(self, *args: Any, leads: list[Agency], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        blank: list[Any] = [("", gettext_lazy("Any"))]
        for name, choices in (
            ("kind", blank + list(RulingKind.choices)),
            ("scope", blank + list(RulingScope.choices)),
            ("lead", blank + agency_groups(leads)),
        ):
            field = self.fields[name]
            assert isinstance(field, django_forms.ChoiceField)
            field.choices = choices


def ruling_list(request: HttpRequest) -> HttpResponse:
    """The rulings this person may see, newest first. Public, as the API is: anonymous visitors see every
    issued ruling not marked internal."""
    visible = selectors.rulings_visible_to(request.user)
    # The agencies that lead a ruling this person may see: the filter offers no agency that finds nothing.
    leads = list(Agency.objects.filter(pk__in=visible.values("lead_agency_id")).order_by("code"))
    form = RulingFilterForm(request.GET or None, leads=leads)
    data: dict[str, Any] = {}
    if form.is_bound:
        form.is_valid()  # a valid field still narrows the list while the form shows the invalid one's error
        data = form.cleaned_data
    # The list shows no cooperating agencies: drop the selector's prefetch of them.
    rulings = narrow(RulingFilter, visible.prefetch_related(None), data)  # the API's filters, the same
    page = Paginator(rulings.order_by("-issued_at", "-pk"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "arbitration/ruling_list.html", {"form": form, "page": page})


def ruling_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Everything a reader needs of one ruling. Its dispute and its amendment are linked only for those
    who may open them; a ruling this person may not see is a 404 (not 403: the URL must not confirm it)."""
    user = request.user
    try:
        ruling = selectors.ruling_detail(user, pk)
    except Ruling.DoesNotExist:
        raise Http404("no such ruling") from None
    chain = selectors.ruling_chain(user, ruling)
    position = next(i for i, (r, _visible) in enumerate(chain) if r.pk == ruling.pk)
    # The amendment page is for signed-in people only; anonymous visitors see its number and state.
    amendment_visible = bool(
        ruling.amendment_id
        and user.is_authenticated
        and registry.amendments_visible_to(user).filter(pk=ruling.amendment_id).exists()
    )
    dispute_visible = selectors.disputes_visible_to(user).filter(pk=ruling.dispute_id).exists()
    context = {
        "ruling": ruling,
        "dispute": ruling.dispute,
        "dispute_visible": dispute_visible,
        "amendment_visible": amendment_visible,
        # The public reads a ruling as the office's (as the API gives it); the officer who signed it is named
        # only to those who follow the dispute itself.
        "issued_by": (
            user_names([ruling.issued_by_id]).get(ruling.issued_by_id or 0, "") if dispute_visible else ""
        ),
        "chain": chain if len(chain) > 1 else [],
        "supersedes": chain[position - 1] if position > 0 else None,
        "superseded_by": chain[position + 1] if position + 1 < len(chain) else None,
    }
    return render(request, "arbitration/ruling_detail.html", context)
