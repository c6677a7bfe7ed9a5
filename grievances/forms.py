"""Browser forms of the grievance pages.

As in ``arbitration.forms``, these forms only parse what a person typed or picked (ids and codes into
agencies and duties, dates into the day's bounds). Whether a dispatch, a return or a rating is acceptable is
the services' question: the views put their ``ApplicationError.extra`` back on these fields, so no rule is
written twice. That is why most fields are ``required=False`` although the service will insist on them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.db.models import Prefetch, QuerySet
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from core.forms import StyledForm
from core.widgets import SearchPicker
from core.workdays import SHANGHAI
from duty_lists import selectors as registry
from duty_lists.models import Agency, AgencyLevel, Duty, DutyType, Layer, Participation, ParticipationRole
from grievances.models import Channel, Grievance, GrievanceKind, GrievanceUrgency, HandoverDirection

STREET_LEVELS = (AgencyLevel.STREET, AgencyLevel.COMMUNITY)
# Where a POST came from, so a refusal is shown on the page the person was looking at.
BACK_CHOICES = [("detail", "detail"), ("queue", "queue"), ("inbox", "inbox")]


def _blank(label: Any) -> list[tuple[str, Any]]:
    return [("", label)]


def _set_choices(field: forms.Field, choices: list[Any]) -> None:
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


# --- Duties in force: the dispatcher's duty choice and the return form's duty picker ---------------------


@dataclass(frozen=True)
class DutyOption:
    duty_id: int
    code: str
    title: str
    lead: str
    territorial: bool
    duty_list: str


def duties_in_force() -> list[DutyOption]:
    """Every duty in force with its lead, in two queries: the pickers label each duty "code title — lead",
    so that citing one says whose it is."""
    revisions = (
        registry.revisions_in_force(with_content=False)
        .select_related("duty_list")
        .prefetch_related(
            Prefetch(
                "participations",
                queryset=Participation.objects.filter(role=ParticipationRole.LEAD).select_related("agency"),
                to_attr="leads",
            )
        )
        .order_by("duty_list__code", "code")
    )
    return [
        DutyOption(
            duty_id=r.duty_id,
            code=r.code,
            title=r.title,
            lead=r.leads[0].agency.name if r.leads else "",
            territorial=r.duty_type == DutyType.TERRITORIAL or r.layer == Layer.STREET,
            duty_list=r.duty_list.name,
        )
        for r in revisions
    ]


def duty_choices(options: Iterable[DutyOption]) -> list[Any]:
    """Grouped by list. A territorial duty is led by the street where the matter happened, whatever the
    list's own lead column says."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for option in options:
        lead = _("the street where it happened") if option.territorial else option.lead
        groups.setdefault(option.duty_list, []).append(
            (str(option.duty_id), f"{option.code} {option.title} — {lead}")
        )
    return list(groups.items())


def duty_picker() -> SearchPicker:
    """1,653 duties are too many for a select: the picker searches /api/v1/duties/ and posts the duty id;
    the field keeps every duty in force as its choices, so validation is the same as with the select."""
    return SearchPicker(source=reverse_lazy("api:duty_list"))


def agency_choices(agencies: Iterable[Agency]) -> list[Any]:
    """Agency ids grouped by level (the one-click dispatch posts the id the router suggested)."""
    groups: dict[str, list[tuple[str, str]]] = {}
    level_labels = dict(AgencyLevel.choices)
    for agency in agencies:
        groups.setdefault(str(level_labels.get(agency.level, agency.level)), []).append(
            (str(agency.pk), agency.name)
        )
    return list(groups.items())


# --- Intake ------------------------------------------------------------------------------------------------


class IntakeForm(StyledForm):
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices, initial=Channel.HOTLINE)
    kind = forms.ChoiceField(label=_("Kind"), choices=GrievanceKind.choices, initial=GrievanceKind.COMPLAINT)
    urgency = forms.ChoiceField(
        label=_("Urgency"),
        choices=GrievanceUrgency.choices,
        initial=GrievanceUrgency.NORMAL,
        widget=forms.RadioSelect,
        help_text=_("Urgent grievances must be handled the same working day and accepted within the hour."),
    )
    # Required here as in the service, so that one submit shows every missing field at once.
    title = forms.CharField(
        label=_("What the citizen asks"),
        max_length=300,
        help_text=_("One sentence in the citizen's words: the router reads it first."),
    )
    details = forms.CharField(
        label=_("What happened, in detail"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    street = forms.ChoiceField(
        label=_("Street"),
        required=False,
        help_text=_("Where it happened. Territorial duties go to this street."),
    )
    address = forms.CharField(label=_("Address"), max_length=300, required=False)
    contact_name = forms.CharField(label=_("Citizen's name"), max_length=100, required=False)
    contact_phone = forms.CharField(label=_("Citizen's phone"), max_length=40, required=False)
    # A second click, or the browser re-sending the form, carries the same key: one grievance, not two.
    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=100)

    def __init__(self, *args: Any, streets: Iterable[Agency], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.streets = {str(s.pk): s for s in streets}
        _set_choices(
            self.fields["street"],
            _blank(_("(unknown)")) + [(pk, s.name) for pk, s in self.streets.items()],
        )
        if not self.is_bound:
            self.fields["idempotency_key"].initial = uuid.uuid4().hex

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["street_obj"] = self.streets.get(data.get("street") or "")
        return data


# --- The dispatcher on the grievance page ---------------------------------------------------------------


class DispatchForm(StyledForm):
    """The dispatcher's own choice; the one-click buttons post the same fields, hidden."""

    agency = forms.ChoiceField(label=_("Lead agency"), required=False)
    duty = forms.ChoiceField(
        label=_("Under the duty"),
        required=False,
        widget=duty_picker(),
        help_text=_("No duty: the matter is not on the list, and the agency asked first must handle it."),
    )
    cooperating = forms.MultipleChoiceField(
        label=_("Cooperating agencies"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text=_("Each gets its own work order and answers its part before the lead resolves."),
    )
    note = forms.CharField(label=_("Note to the agency"), required=False, max_length=2000)
    back = forms.ChoiceField(choices=BACK_CHOICES, required=False, widget=forms.HiddenInput)

    def __init__(
        self, *args: Any, agencies: Iterable[Agency], duties: Iterable[DutyOption] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        everyone = list(agencies)
        self.agencies = {str(a.pk): a for a in everyone}
        grouped = agency_choices(everyone)
        _set_choices(self.fields["agency"], _blank(_("(choose)")) + grouped)
        _set_choices(self.fields["cooperating"], grouped)
        options = list(duties)
        self.duty_ids = {str(o.duty_id) for o in options}
        _set_choices(self.fields["duty"], _blank(_("(none: not on the list)")) + duty_choices(options))

    def clean_duty(self) -> int | None:
        value = self.cleaned_data.get("duty") or ""
        return int(value) if value else None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["agency_obj"] = self.agencies.get(data.get("agency") or "")
        if data.get("agency") is not None and data["agency_obj"] is None:
            self.add_error("agency", _("Choose the agency to send it to."))
        data["cooperating_objs"] = [
            self.agencies[c] for c in data.get("cooperating", []) if c in self.agencies
        ]
        return data


class QuickDispatchForm(forms.Form):
    """A suggestion's one-click button: the agency and duty the router proposed, nothing else. It takes
    ids without listing every agency and duty: the service decides whether the dispatch is allowed."""

    agency = forms.IntegerField(widget=forms.HiddenInput)
    duty = forms.IntegerField(widget=forms.HiddenInput, required=False)
    back = forms.ChoiceField(choices=BACK_CHOICES, required=False, widget=forms.HiddenInput)


class ReasonForm(StyledForm):
    reason = forms.CharField(label=_("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class PublishForm(StyledForm):
    description = forms.CharField(
        label=_("Public description"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_(
            "What anyone may read on Open311. Names, phone numbers, identity-card numbers and house numbers "
            "are masked; check what remains before publishing."
        ),
    )
    address = forms.CharField(
        label=_("Public address"),
        required=False,
        max_length=300,
        help_text=_("The street or place, without house and flat numbers."),
    )


class FeedbackForm(StyledForm):
    rating = forms.TypedChoiceField(
        label=_("The citizen's rating"),
        choices=[(str(n), str(n)) for n in range(1, 6)],
        coerce=int,
        empty_value=None,
        required=False,
        widget=forms.RadioSelect,
        help_text=_("1 very unsatisfied … 5 very satisfied. 1 or 2 counts as unsatisfied."),
    )
    comment = forms.CharField(label=_("Comment"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    reopen = forms.BooleanField(
        label=_("Unsatisfied: ask for it to be handled again"),
        required=False,
        help_text=_("Reopens the grievance for the dispatchers (counted in the redo rate)."),
    )


# --- The agency's work orders -------------------------------------------------------------------------------


class NoteForm(StyledForm):
    note = forms.CharField(label=_("Note"), required=False, max_length=2000)
    back = forms.ChoiceField(choices=BACK_CHOICES, required=False, widget=forms.HiddenInput)


class ReturnForm(StyledForm):
    cited_duty = forms.ChoiceField(
        label=_("The duty that names the responsible agency"),
        required=False,
        widget=duty_picker(),
        help_text=_("A return must cite the list: the duty, in force, whose lead is another agency."),
    )
    unlisted = forms.BooleanField(label=_("The list does not cover this matter"), required=False)
    reason = forms.CharField(
        label=_("Why it is not your agency's"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    back = forms.ChoiceField(choices=BACK_CHOICES, required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, duties: Iterable[DutyOption], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_choices(self.fields["cited_duty"], _blank(_("(choose a duty)")) + duty_choices(duties))

    def clean_cited_duty(self) -> int | None:
        value = self.cleaned_data.get("cited_duty") or ""
        return int(value) if value else None


class ResolveForm(StyledForm):
    resolution = forms.CharField(
        label=_("How it was resolved"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The citizen reads this on their status page."),
    )
    back = forms.ChoiceField(choices=BACK_CHOICES, required=False, widget=forms.HiddenInput)


class AnswerForm(StyledForm):
    answer = forms.CharField(
        label=_("What your agency did"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    back = forms.ChoiceField(choices=BACK_CHOICES, required=False, widget=forms.HiddenInput)


# --- Whistles -----------------------------------------------------------------------------------------------


class WhistleForm(StyledForm):
    street = forms.ChoiceField(label=_("Street"))
    title = forms.CharField(label=_("What the street needs them for"), max_length=200, required=False)
    description = forms.CharField(
        label=_("What is happening"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    address = forms.CharField(label=_("Address"), max_length=300, required=False)
    agencies = forms.MultipleChoiceField(
        label=_("Summoned departments"), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(
        self, *args: Any, streets: Iterable[Agency], agencies: Iterable[Agency], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        own = list(streets)
        self.streets = {str(s.pk): s for s in own}
        _set_choices(self.fields["street"], [(pk, s.name) for pk, s in self.streets.items()])
        if len(own) == 1:
            self.fields["street"].widget = forms.HiddenInput()
            self.fields["street"].initial = str(own[0].pk)
        others = [a for a in agencies if str(a.pk) not in self.streets]
        self.departments = {str(a.pk): a for a in others}
        _set_choices(self.fields["agencies"], [(pk, a.name) for pk, a in self.departments.items()])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["street_obj"] = self.streets.get(data.get("street") or "")
        data["agency_objs"] = [self.departments[c] for c in data.get("agencies", []) if c in self.departments]
        return data


class SummonsReportForm(StyledForm):
    note = forms.CharField(label=_("Who came, and what they found"), required=False, max_length=2000)


# --- Two-way handovers (双向派单) -------------------------------------------------------------------------


class HandoverForm(StyledForm):
    """Report a matter to the agency whose remit it is. Back up (a street returning a matter that came
    down) is a step on that handover's page, not a choice here: it needs the handover it answers."""

    direction = forms.ChoiceField(
        label=_("Direction"),
        choices=[
            (HandoverDirection.UP, HandoverDirection.UP.label),
            (HandoverDirection.DOWN, HandoverDirection.DOWN.label),
        ],
        widget=forms.RadioSelect,
        help_text=_(
            "A street reports a district agency's matter up; a district agency passes a territorial "
            "matter down to a street."
        ),
    )
    from_agency = forms.ChoiceField(label=_("From"))
    to_agency = forms.ChoiceField(label=_("To the agency"))
    matter = forms.CharField(
        label=_("Matter"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("What was found and where, so that the receiving agency can act on it."),
    )
    found_at = forms.DateTimeField(
        label=_("Found at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Empty: now. A matter is reported the same day it is found; later counts as late."),
    )
    duty = forms.ChoiceField(
        label=_("Under the duty"),
        required=False,
        widget=duty_picker(),
        help_text=_("The duty of the list that makes it the receiving agency's, if there is one."),
    )
    grievance = forms.CharField(
        label=_("Grievance reference"),
        required=False,
        max_length=30,
        help_text=_("If the matter came in as a citizen's grievance."),
    )

    def __init__(
        self,
        *args: Any,
        own: Iterable[Agency],
        agencies: Iterable[Agency],
        duties: Iterable[DutyOption],
        grievances: QuerySet[Grievance],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        mine = list(own)
        self.own = {str(a.pk): a for a in mine}
        _set_choices(self.fields["from_agency"], [(pk, a.name) for pk, a in self.own.items()])
        if len(mine) == 1:
            self.fields["from_agency"].widget = forms.HiddenInput()
            self.fields["from_agency"].initial = str(mine[0].pk)
        if mine and not self.is_bound and "direction" not in self.initial:
            # Streets mostly report up, district agencies mostly pass down.
            street = mine[0].level in STREET_LEVELS
            self.fields["direction"].initial = HandoverDirection.UP if street else HandoverDirection.DOWN
        everyone = list(agencies)
        self.agencies = {str(a.pk): a for a in everyone}
        _set_choices(self.fields["to_agency"], _blank(_("(choose)")) + agency_choices(everyone))
        options = list(duties)
        _set_choices(self.fields["duty"], _blank(_("(none)")) + duty_choices(options))
        self.grievances = grievances

    def clean_duty(self) -> Duty | None:
        value = self.cleaned_data.get("duty") or ""
        # The choices are the duties in force: a value that passed them names a duty that exists.
        return Duty.objects.filter(pk=int(value)).first() if value else None

    def clean_grievance(self) -> Grievance | None:
        reference = (self.cleaned_data.get("grievance") or "").strip()
        if not reference:
            return None
        # Only a grievance this person sees may be linked: otherwise it is not theirs to name.
        grievance = self.grievances.filter(reference=reference).first()
        if grievance is None:
            raise forms.ValidationError(_("No such grievance."))
        return grievance

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["from_agency_obj"] = self.own.get(data.get("from_agency") or "")
        data["to_agency_obj"] = self.agencies.get(data.get("to_agency") or "")
        return data


class HandoverCompleteForm(StyledForm):
    note = forms.CharField(label=_("Note"), required=False, max_length=2000)


class HandoverReportBackForm(StyledForm):
    report = forms.CharField(
        label=_("What was done"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The agency that handed the matter over reads this."),
    )


class HandoverBackUpForm(StyledForm):
    matter = forms.CharField(
        label=_("Why the street cannot handle it"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The matter goes back up to the agency that passed it down, as a new handover."),
    )


# --- Figures ------------------------------------------------------------------------------------------------


class FiguresForm(StyledForm):
    since = forms.DateField(
        label=_("Received from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("Received until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    group = forms.ChoiceField(
        label=_("Trend by"),
        required=False,
        choices=[("", _("(no trend)")), ("day", _("Day")), ("week", _("Week")), ("month", _("Month"))],
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", _("Before the start date."))
        # Dates are the local calendar's: "until the 5th" includes all of the 5th.
        data["since_at"] = datetime.combine(since, time.min, tzinfo=SHANGHAI) if since else None
        data["until_at"] = (
            datetime.combine(until + timedelta(days=1), time.min, tzinfo=SHANGHAI) if until else None
        )
        return data
