"""The dashboard's filters: a date range of receipt (local dates, both ends included), an agency and the
trend's period. Bad values are form errors, which the page shows with a 400; an agency outside the viewer's
scope is the view's to refuse (403), since the form cannot tell "no such agency" from "not yours" alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.forms import StyledForm
from duty_lists.models import Agency

DEFAULT_DAYS = 90  # what the page shows before anyone filters: the last 90 days, today included
DATE_ERROR = _("“%(value)s” is not a date: enter one as YYYY-MM-DD, for example 2026-05-01.")


class DayField(forms.DateField):
    """A local date as YYYY-MM-DD; a bad one is named in the error (a date input cannot show it again)."""

    def to_python(self, value: Any) -> date | None:
        try:
            return super().to_python(value)
        except forms.ValidationError:
            raise forms.ValidationError(DATE_ERROR, code="invalid", params={"value": value}) from None


@dataclass(frozen=True)
class Filters:
    since: date
    until: date
    agency_id: int | None = None
    period: str | None = None  # None: chosen from the range's length

    def query(self) -> dict[str, str]:
        """The same filters as URL parameters (for the Excel links)."""
        params = {"since": self.since.isoformat(), "until": self.until.isoformat()}
        if self.agency_id is not None:
            params["agency"] = str(self.agency_id)
        if self.period:
            params["period"] = self.period
        return params


def default_filters(today: date | None = None) -> Filters:
    today = today or timezone.localdate()
    return Filters(since=today - timedelta(days=DEFAULT_DAYS - 1), until=today)


class DashboardForm(StyledForm):
    since = DayField(
        label=_("Received from"),
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    until = DayField(
        label=_("Received until"),
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    agency = forms.CharField(label=_("Agency"), required=False, widget=forms.Select)
    period = forms.ChoiceField(
        label=_("Trend by"),
        required=False,
        choices=[("", _("(automatic)")), ("day", _("Day")), ("week", _("Week")), ("month", _("Month"))],
    )

    def __init__(self, *args: Any, agencies: QuerySet[Agency], everyone: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices: list[tuple[str, str]] = [("", str(_("All agencies")))] if everyone else []
        choices += [(str(a.pk), a.name) for a in agencies]
        self.fields["agency"].widget.choices = choices

    def clean_agency(self) -> int | None:
        value = (self.cleaned_data.get("agency") or "").strip()
        if not value:
            return None
        if not value.isdigit() or not Agency.objects.filter(pk=int(value)).exists():
            raise forms.ValidationError(_("No such agency: choose one from the list."))
        return int(value)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", _("Before the start date."))
        return data

    def filters(self, today: date | None = None) -> Filters:
        """The valid form's filters, the missing ends filled in (call only when ``is_valid()``)."""
        default = default_filters(today)
        since, until = self.cleaned_data.get("since"), self.cleaned_data.get("until")
        if until is None:
            until = max(default.until, since) if since else default.until
        if since is None:
            since = until - timedelta(days=DEFAULT_DAYS - 1)
        return Filters(
            since=since,
            until=until,
            agency_id=self.cleaned_data.get("agency"),
            period=self.cleaned_data.get("period") or None,
        )
