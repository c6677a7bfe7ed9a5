"""Browser forms of the arbitration pages: filing a dispute, a party's position, the small forms behind the
step buttons, and the ruling form with its cooperating agencies and follow-up items.

As in ``duty_lists.forms``, the forms only parse what a person typed (codes into agencies and duties, lines
into links). Whether a dispute, position or ruling is acceptable is the services' question; the views put
their ``ApplicationError.extra`` back on these fields, so no rule is written twice. The one check made
here is that duty codes name duties in force in the chosen list: the service takes ``Duty`` objects, and
turning a typed code into one is parsing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.forms import formset_factory
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from arbitration.models import DisputeKind, Domain, RulingScope, Stance, Urgency
from core.forms import StyledForm
from duty_lists import selectors
from duty_lists.models import Agency, AgencyLevel, Classification, Duty, DutyList

# Codes and links may be separated the Chinese way (、，；), the Western way (, ;), by spaces or by lines.
_SEPARATORS = re.compile(r"[\s,，、;；]+")
_DATE_WIDGET = {"type": "date"}


def split_items(text: str) -> list[str]:
    seen: list[str] = []
    for item in _SEPARATORS.split(text or ""):
        if item and item not in seen:
            seen.append(item)
    return seen


def agency_groups(agencies: Iterable[Agency]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Agencies grouped by level, in the order given: a long directory stays scannable."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for agency in agencies:
        groups.setdefault(agency.level, []).append((agency.code, f"{agency.name} ({agency.code})"))
    labels = dict(AgencyLevel.choices)
    return [(str(labels.get(level, level)), options) for level, options in groups.items()]


def _blank(label: Any) -> list[tuple[str, Any]]:
    return [("", label)]


def _set_choices(field: forms.Field, choices: list[Any]) -> None:
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


# --- Filing ----------------------------------------------------------------------------------------------


class DisputeFileForm(StyledForm):
    # Required here as in the service, so one submit shows every missing field (the form stops at the
    # first invalid field set before the service could add its own).
    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(
        label=_("What happened"),
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("The matter, where and since when, and what each agency says. Citizens' names stay out."),
    )
    kind = forms.ChoiceField(label=_("Kind of dispute"), choices=_blank(_("(choose)")) + DisputeKind.choices)
    domain = forms.ChoiceField(label=_("Domain"))
    urgency = forms.ChoiceField(
        label=_("Urgency"),
        choices=Urgency.choices,
        initial=Urgency.NORMAL,
        widget=forms.RadioSelect,
        help_text=_("Urgent livelihood matters are counted in minutes, not working days."),
    )
    filing_agency = forms.ChoiceField(label=_("Filing agency"))
    respondents = forms.MultipleChoiceField(
        label=_("The other agencies"), widget=forms.CheckboxSelectMultiple
    )
    duty_list = forms.ChoiceField(label=_("Duty list"), required=False)
    duty_codes = forms.CharField(
        label=_("Duty codes"),
        required=False,
        help_text=_(
            "The codes of the duties concerned, e.g. 01-02-0003, separated by commas or spaces. "
            "Leave empty for a gap: a matter the list does not name."
        ),
    )
    evidence_links = forms.CharField(
        label=_("Links to evidence"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One web address per line: documents, photos, earlier correspondence."),
    )

    def __init__(
        self,
        *args: Any,
        filing_agencies: Iterable[Agency],
        agencies: Iterable[Agency],
        duty_lists: Iterable[DutyList],
        domains: Iterable[Domain],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        filing = list(filing_agencies)
        self.filing_agencies = {a.code: a for a in filing}
        self.agencies = {a.code: a for a in agencies}
        self.duty_lists = {d.code: d for d in duty_lists}
        self.domains = {d.code: d for d in domains}
        _set_choices(self.fields["filing_agency"], [(a.code, f"{a.name} ({a.code})") for a in filing])
        if len(filing) == 1:
            self.fields["filing_agency"].initial = filing[0].code
        _set_choices(self.fields["respondents"], [(code, a.name) for code, a in self.agencies.items()])
        _set_choices(
            self.fields["domain"], _blank(_("(choose)")) + [(d.code, d.name) for d in self.domains.values()]
        )
        lists = [(d.code, f"{d.name} ({d.code})") for d in self.duty_lists.values()]
        _set_choices(self.fields["duty_list"], _blank(_("(none)")) + lists)
        if len(lists) == 1:
            self.fields["duty_list"].initial = lists[0][0]
        self.fields["duty_codes"].widget.attrs["class"] = "input input--code"

    def clean_evidence_links(self) -> list[str]:
        links = [line.strip() for line in self.cleaned_data["evidence_links"].splitlines() if line.strip()]
        validate = URLValidator(schemes=["http", "https"])
        bad = []
        for link in links:
            try:
                validate(link)
            except ValidationError:
                bad.append(link)
        if bad:
            raise ValidationError(
                _("Not a web address (http:// or https://): %(links)s") % {"links": "、".join(bad)}
            )
        return links

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["domain_obj"] = self.domains.get(data.get("domain", ""))
        data["filing_agency_obj"] = self.filing_agencies.get(data.get("filing_agency", ""))
        data["respondent_objs"] = [
            self.agencies[c] for c in data.get("respondents", []) if c in self.agencies
        ]
        data["duties"] = self._duties(data)
        return data

    def _duties(self, data: dict[str, Any]) -> list[Duty]:
        codes = split_items(data.get("duty_codes", ""))
        if not codes:
            return []
        duty_list = self.duty_lists.get(data.get("duty_list") or "")
        if duty_list is None:
            self.add_error("duty_list", _("Choose the list the duty codes belong to."))
            return []
        in_force = {
            r.code: r.duty
            for r in selectors.revisions_in_force(duty_list=duty_list, with_content=False)
            .filter(code__in=codes)
            .select_related("duty")
        }
        unknown = [c for c in codes if c not in in_force]
        if unknown:
            self.add_error(
                "duty_codes",
                _("Not a duty in force in %(list)s: %(codes)s")
                % {"list": duty_list.name, "codes": "、".join(unknown)},
            )
            return []
        return [in_force[c] for c in codes]


# --- On the dispute page ---------------------------------------------------------------------------------


class ReasonForm(StyledForm):
    reason = forms.CharField(label=_("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class PositionForm(StyledForm):
    agency = forms.ChoiceField(label=_("For"))
    stance = forms.ChoiceField(label=_("Position"), choices=Stance.choices, widget=forms.RadioSelect)
    proposed_agency = forms.ChoiceField(
        label=_("Proposed agency"), required=False, help_text=_("Only when you propose another agency.")
    )
    statement = forms.CharField(
        label=_("Statement"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    legal_basis = forms.CharField(
        label=_("Legal basis"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("The law, article or document your position rests on."),
    )

    def __init__(
        self, *args: Any, own_agencies: Iterable[Agency], agencies: Iterable[Agency], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        own = list(own_agencies)
        _set_choices(self.fields["agency"], [(a.code, a.name) for a in own])
        if len(own) == 1:
            self.fields["agency"].widget = forms.HiddenInput()
            self.fields["agency"].initial = own[0].code
        everyone = list(agencies)
        self.agencies = {a.code: a for a in [*everyone, *own]}
        _set_choices(self.fields["proposed_agency"], _blank(_("(choose)")) + agency_groups(everyone))


class AgreementForm(StyledForm):
    statement = forms.CharField(
        label=_("What the parties agreed"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Who leads, who cooperates, from when. The editorial office confirms it."),
    )


class MeetingForm(StyledForm):
    held_on = forms.DateField(
        label=_("Held on"), widget=forms.DateInput(attrs=_DATE_WIDGET, format="%Y-%m-%d")
    )
    attendees = forms.CharField(
        label=_("Attendees"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    minutes = forms.CharField(label=_("Minutes"), required=False, widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["held_on"].initial = timezone.localdate()


class FollowUpReportForm(StyledForm):
    report = forms.CharField(
        label=_("What has been done"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


# --- The ruling ------------------------------------------------------------------------------------------


class RulingForm(StyledForm):
    lead_agency = forms.ChoiceField(label=_("Lead agency"))
    lead_responsibility = forms.CharField(
        label=_("Lead agency's responsibility"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    rationale = forms.CharField(
        label=_("Rationale"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("Why this agency: the law, the list, the facts established."),
    )
    legal_bases = forms.CharField(
        label=_("Legal bases"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One a line. A class ruling adds them to the duty it rewrites."),
    )
    keywords = forms.CharField(
        label=_("Keywords"),
        required=False,
        max_length=500,
        help_text=_(
            "The words grievances of this kind use, separated by commas: a class ruling adds them to the "
            "duty, so the next such grievance is routed to the lead agency."
        ),
    )
    scope = forms.ChoiceField(
        label=_("Scope"),
        choices=RulingScope.choices,
        initial=RulingScope.CASE,
        widget=forms.RadioSelect,
        help_text=_(
            "A class of matters is written into the duty list: the amendment is drafted and "
            "sent to legal review at once."
        ),
    )
    effective_date = forms.DateField(
        label=_("Effective date"), widget=forms.DateInput(attrs=_DATE_WIDGET, format="%Y-%m-%d")
    )
    is_internal = forms.BooleanField(
        label=_("Internal: not published"),
        required=False,
        help_text=_("Internal rulings are seen only by those who see the dispute."),
    )
    new_duty_classification = forms.ChoiceField(label=_("Classification of the new duty"), required=False)
    new_duty_title = forms.CharField(label=_("Title of the new duty"), required=False, max_length=300)
    new_duty_description = forms.CharField(
        label=_("Description of the new duty"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Leave empty to use the rationale."),
    )

    def __init__(
        self,
        *args: Any,
        agency_choices: list[Any],
        classifications: Iterable[Classification] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        _set_choices(self.fields["lead_agency"], _blank(_("(choose)")) + agency_choices)
        self.fields["effective_date"].initial = timezone.localdate()
        groups: dict[str, list[tuple[str, str]]] = {}
        for c in classifications:
            groups.setdefault(c.duty_list.name, []).append((c.code, f"{c.code} {c.name}"))
        _set_choices(self.fields["new_duty_classification"], _blank(_("(choose)")) + list(groups.items()))


class CooperatingForm(StyledForm):
    agency = forms.ChoiceField(label=_("Cooperating agency"), required=False)
    responsibility = forms.CharField(
        label=_("Its responsibility"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, agency_choices: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_choices(self.fields["agency"], _blank(_("(none)")) + agency_choices)


class FollowUpItemForm(StyledForm):
    agency = forms.ChoiceField(label=_("Agency"), required=False)
    description = forms.CharField(
        label=_("What to do"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    due_date = forms.DateField(
        label=_("Due date"),
        required=False,
        widget=forms.DateInput(attrs=_DATE_WIDGET, format="%Y-%m-%d"),
    )

    def __init__(self, *args: Any, agency_choices: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_choices(self.fields["agency"], _blank(_("(none)")) + agency_choices)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("agency") and not data.get("due_date"):
            self.add_error("due_date", _("Required."))
        if not data.get("agency") and (data.get("description") or "").strip():
            self.add_error("agency", _("Choose the agency that carries it out."))
        return data


CooperatingFormSet = formset_factory(CooperatingForm, extra=2, max_num=30, validate_max=True)
FollowUpFormSet = formset_factory(FollowUpItemForm, extra=2, max_num=30, validate_max=True)


# --- Lists -----------------------------------------------------------------------------------------------


class DisputeFilterForm(StyledForm):
    STATES = [("open", _("Open")), ("closed", _("Closed")), ("all", _("All"))]

    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    state = forms.ChoiceField(label=_("State"), required=False, choices=STATES)
    stage = forms.ChoiceField(label=_("Stage"), required=False)
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)

    def __init__(self, *args: Any, stages: list[tuple[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_choices(self.fields["stage"], _blank(_("Any")) + stages)
