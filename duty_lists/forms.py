"""Browser forms of the duty-list pages: the public browse filters, the amendment form and the small forms
behind the review buttons.

The forms only parse what a person typed. Whether a proposal is a valid duty is the services' question
(``DutyContent.validate``, ``amendment_create``); the views put the answer's ``ApplicationError.extra`` back
on these fields, so one rule is never written twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django import forms
from django.forms import formset_factory
from django.utils.translation import gettext_lazy as _

from core.forms import StyledForm
from duty_lists.exporting import WORD_SEPARATORS  # the spreadsheet import reads keywords the same way
from duty_lists.models import (
    Agency,
    AgencyLevel,
    AmendmentKind,
    Classification,
    DutyList,
    DutyType,
    Layer,
    ParticipationRole,
    ServiceKind,
)
from duty_lists.proposals import DutyContent

# Keywords may be typed the Chinese way (、，；), the Western way (, ;) or one per line.
_WORD_SEPARATORS = re.compile(r"[,，、;；\n\r\t]+")


def split_words(text: str) -> list[str]:
    """The words of a keywords box: one a line when it has several lines (a word may then hold "、", like
    the demo's keyword "房产证登记、办理"), else split at any separator. The export reads the same way."""
    text = (text or "").replace("\r\n", "\n")
    if "\n" in text:
        parts = [line.strip().strip(WORD_SEPARATORS).strip() for line in text.split("\n")]
    else:
        parts = [word.strip() for word in _WORD_SEPARATORS.split(text)]
    seen: list[str] = []
    for word in parts:
        if word and word not in seen:
            seen.append(word)
    return seen


def join_words(words: Iterable[str]) -> str:
    """What split_words reads back as the same words: "、" between them, or one a line when a word holds a
    separator (a single such word gets its own line too, below an empty one, so the box has two lines)."""
    words = list(words)
    if not any(separator in word for word in words for separator in WORD_SEPARATORS):
        return "、".join(words)
    return "\n".join(words) if len(words) > 1 else f"{words[0]}\n"


def _blank(label: Any) -> list[tuple[str, Any]]:
    return [("", label)]


def set_choices(field: forms.Field, choices: list[tuple[Any, Any]]) -> None:
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


# --- Public browse -------------------------------------------------------------------------------------


class BrowseFilterForm(StyledForm):
    """The filters of a list page. ``agency`` is checked against the agencies that appear in the list by the
    view (the choices depend on the date asked for), so here it is only a code."""

    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    agency = forms.CharField(label=_("Agency (lead or cooperating)"), required=False, max_length=50)
    duty_type = forms.ChoiceField(
        label=_("Duty type"), required=False, choices=_blank(_("Any")) + list(DutyType.choices)
    )
    layer = forms.ChoiceField(
        label=_("Layer"), required=False, choices=_blank(_("Any")) + list(Layer.choices)
    )
    as_of = forms.DateField(
        label=_("As of"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    category = forms.CharField(required=False, max_length=20, widget=forms.HiddenInput)

    def clean_q(self) -> str:
        return " ".join(self.cleaned_data["q"].split())


# --- Amendments ----------------------------------------------------------------------------------------


class AmendmentStartForm(StyledForm):
    """Step one, a GET form: which list, what kind of change, which duty. The proposal form below is
    prefilled from the duty's current text once these are known."""

    list = forms.ChoiceField(label=_("Duty list"))
    kind = forms.ChoiceField(label=_("Kind of amendment"), choices=AmendmentKind.choices)
    duty = forms.CharField(
        label=_("Duty code"),
        required=False,
        max_length=40,
        help_text=_("The code of the duty to change, e.g. 03-12-0001. Leave empty to add a new duty."),
    )

    def __init__(self, *args: Any, duty_lists: Iterable[DutyList], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self.fields["list"], [(d.code, f"{d.name} ({d.code})") for d in duty_lists])

    def clean_duty(self) -> str:
        return self.cleaned_data["duty"].strip()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        if kind and kind != AmendmentKind.ADD and not data.get("duty"):
            self.add_error("duty", _("Name the duty to change."))
        return data


def _agency_choices(agencies: Iterable[Agency]) -> list[tuple[Any, Any]]:
    """Agencies grouped by level, so a long directory stays scannable in a plain select."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for agency in agencies:
        groups.setdefault(agency.level, []).append((agency.code, f"{agency.name} ({agency.code})"))
    labels = dict(AgencyLevel.choices)
    return [(labels.get(level, level), options) for level, options in groups.items()]


class AmendmentForm(StyledForm):
    """The proposal: why, on whose behalf, and the duty as it should read afterwards."""

    proposing_agency = forms.ChoiceField(label=_("Proposing agency"))
    justification = forms.CharField(
        label=_("Justification"),
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text=_("Why the list should change: the case, the law, the ruling."),
    )
    classification = forms.ChoiceField(label=_("Classification"), required=False)
    title = forms.CharField(label=_("Title"), required=False, max_length=300)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    duty_type = forms.ChoiceField(
        label=_("Duty type"), required=False, choices=DutyType.choices, initial=DutyType.MAIN
    )
    service_kind = forms.ChoiceField(
        label=_("Service kind"),
        required=False,
        choices=_blank(_("(not a service)")) + list(ServiceKind.choices),
        help_text=_("Only for public-service duties."),
    )
    layer = forms.ChoiceField(label=_("Layer"), required=False, choices=Layer.choices, initial=Layer.DISTRICT)
    lead_agency = forms.ChoiceField(label=_("Lead agency"), required=False)
    lead_responsibility = forms.CharField(
        label=_("Lead agency's responsibility"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    # Not stripped: a single word holding "、" is kept whole by the line break after it (see join_words).
    keywords = forms.CharField(
        label=_("Keywords"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Separate words with commas or enumeration commas, or put one word a line."),
    )
    synonyms = forms.CharField(
        label=_("Synonyms"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Separate words with commas or enumeration commas, or put one word a line."),
    )
    promised_days = forms.IntegerField(
        label=_("Promised time limit (working days)"), required=False, min_value=1, max_value=32767
    )
    statutory_days = forms.IntegerField(
        label=_("Statutory time limit (working days)"), required=False, min_value=1, max_value=32767
    )
    district_side = forms.CharField(
        label=_("District-side duty"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    street_side = forms.CharField(
        label=_("Street-side duty"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    CONTENT_FIELDS = (
        "classification",
        "title",
        "description",
        "duty_type",
        "service_kind",
        "layer",
        "lead_agency",
        "lead_responsibility",
        "keywords",
        "synonyms",
        "promised_days",
        "statutory_days",
        "district_side",
        "street_side",
    )

    def __init__(
        self,
        *args: Any,
        proposing_agencies: Iterable[Agency],
        agencies: Iterable[Agency],
        classifications: Iterable[Classification],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        proposing = list(proposing_agencies)
        set_choices(self.fields["proposing_agency"], [(a.code, f"{a.name} ({a.code})") for a in proposing])
        if len(proposing) == 1:
            self.fields["proposing_agency"].initial = proposing[0].code
        set_choices(self.fields["lead_agency"], _blank(_("(choose)")) + _agency_choices(agencies))
        groups: dict[str, list[tuple[str, str]]] = {}
        for classification in classifications:
            category = classification.category
            groups.setdefault(f"{category.code} {category.name}", []).append(
                (classification.code, f"{classification.code} {classification.name}")
            )
        set_choices(self.fields["classification"], _blank(_("(choose)")) + list(groups.items()))

    @staticmethod
    def initial_from(content: DutyContent) -> dict[str, Any]:
        lead = next((p for p in content.participants if p.role == ParticipationRole.LEAD), None)
        return {
            "classification": content.classification,
            "title": content.title,
            "description": content.description,
            "duty_type": content.duty_type,
            "service_kind": content.service_kind,
            "layer": content.layer,
            "lead_agency": lead.agency if lead else "",
            "lead_responsibility": lead.responsibility if lead else "",
            "keywords": join_words(content.keywords),
            "synonyms": join_words(content.synonyms),
            "promised_days": content.promised_days,
            "statutory_days": content.statutory_days,
            "district_side": content.district_side,
            "street_side": content.street_side,
        }


class CooperatingForm(StyledForm):
    agency = forms.ChoiceField(label=_("Cooperating agency"), required=False)
    responsibility = forms.CharField(
        label=_("Its responsibility"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, agency_choices: list[tuple[Any, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self.fields["agency"], agency_choices)


class LegalBasisForm(StyledForm):
    title = forms.CharField(label=_("Law or document"), required=False, max_length=300)
    article = forms.CharField(label=_("Article"), required=False, max_length=200)
    document_number = forms.CharField(label=_("Document number"), required=False, max_length=200)


CooperatingFormSet = formset_factory(CooperatingForm, extra=2, max_num=50, validate_max=True)
LegalBasisFormSet = formset_factory(LegalBasisForm, extra=2, max_num=50, validate_max=True)


def cooperating_initial(content: DutyContent) -> list[dict[str, str]]:
    return [
        {"agency": p.agency, "responsibility": p.responsibility}
        for p in content.participants
        if p.role == ParticipationRole.COOPERATING
    ]


def legal_bases_initial(content: DutyContent) -> list[dict[str, str]]:
    return [
        {"title": b.title, "article": b.article, "document_number": b.document_number}
        for b in content.legal_bases
    ]


def proposal_from_forms(form: AmendmentForm, cooperating: Any, legal_bases: Any) -> dict[str, Any]:
    """The ``DutyContent`` dict the bound, valid forms describe; blank formset rows are skipped."""
    data = form.cleaned_data
    participants: list[dict[str, str]] = []
    if data.get("lead_agency"):
        participants.append(
            {
                "agency": data["lead_agency"],
                "role": ParticipationRole.LEAD,
                "responsibility": data.get("lead_responsibility", "").strip(),
            }
        )
    for row in cooperating.cleaned_data:
        if row.get("agency"):
            participants.append(
                {
                    "agency": row["agency"],
                    "role": ParticipationRole.COOPERATING,
                    "responsibility": row.get("responsibility", "").strip(),
                }
            )
    bases = [
        {
            "title": row.get("title", "").strip(),
            "article": row.get("article", "").strip(),
            "document_number": row.get("document_number", "").strip(),
        }
        for row in legal_bases.cleaned_data
        if any((row.get(k) or "").strip() for k in ("title", "article", "document_number"))
    ]
    return DutyContent(
        classification=data.get("classification") or "",
        title=(data.get("title") or "").strip(),
        description=(data.get("description") or "").strip(),
        duty_type=data.get("duty_type") or DutyType.MAIN,
        service_kind=data.get("service_kind") or "",
        layer=data.get("layer") or Layer.DISTRICT,
        keywords=split_words(data.get("keywords", "")),
        synonyms=split_words(data.get("synonyms", "")),
        promised_days=data.get("promised_days"),
        statutory_days=data.get("statutory_days"),
        district_side=(data.get("district_side") or "").strip(),
        street_side=(data.get("street_side") or "").strip(),
    ).to_dict() | {"participants": participants, "legal_bases": bases}


class ReasonForm(StyledForm):
    reason = forms.CharField(label=_("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class OpinionForm(StyledForm):
    agency = forms.CharField(widget=forms.HiddenInput)
    concurs = forms.TypedChoiceField(
        label=_("Opinion"),
        choices=[("yes", _("Concur")), ("no", _("Object"))],
        coerce=lambda v: v == "yes",
        widget=forms.RadioSelect,
    )
    opinion = forms.CharField(
        label=_("Remarks"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required when your agency objects."),
    )


class PublishForm(StyledForm):
    note = forms.CharField(
        label=_("Note"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What this edition changes and on whose decision, for the public record."),
    )
    effective_date = forms.DateField(
        label=_("Effective date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("Leave empty for today."),
    )
