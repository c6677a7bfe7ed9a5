"""双向考评's pages: the month's page (what the person's agency has to rate, the ratings it received with an
appeal form, its results; for the editorial office every agency's results, the open appeals and the
criteria), and the rating form for one counterpart. Every write goes through
``grievances.services.ratings``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import ApplicationError
from duty_lists import permissions
from duty_lists.models import Agency
from grievances.ratings import selectors
from grievances.ratings.forms import AppealDecisionForm, AppealForm, RatingForm
from grievances.ratings.models import (
    AppealState,
    MutualRating,
    MutualRatingScore,
    RatingAppeal,
    RatingCriterion,
    RatingDirection,
)
from grievances.ratings.results import MONTH, Received, month_start, received_scores
from grievances.ratings.results import parse_month as parse_month_text
from grievances.services.ratings import rating_appeal_decide, rating_appeal_file, rating_submit
from grievances.views.common import acts_for, fix_or_report, show_refusal


class BadMonth(ValueError):
    pass


def parse_month(text: str | None) -> date:
    """``YYYY-MM`` → the month's first day; none given → the current month. A month that has not begun
    has nothing to show or rate: refused like a malformed one."""
    if not text:
        return month_start(selectors.today())
    try:
        month = parse_month_text(text)
    except ValueError as error:
        raise BadMonth(str(error)) from None
    if month > selectors.today():
        raise BadMonth(_("That month has not begun yet."))
    return month


def _own_agencies(user: Any) -> list[Agency]:
    """The agencies this person is staff of (a superuser acts for none of them here: the office's view)."""
    return list(Agency.objects.filter(pk__in=permissions.agencies_of(user), is_active=True).order_by("code"))


def _month_url(month: date) -> str:
    return f"{reverse('grievances:ratings')}?month={month:%Y-%m}"


# --- What the page shows ------------------------------------------------------------------------------------


@dataclass
class Counterpart:
    """One agency the person's agency rates, with what it did this month."""

    agency: Agency
    worked: int  # handovers and summonses between the two this month
    rating: MutualRating | None
    may_rate: bool  # the window is open and no appeal froze the rating

    @property
    def status(self) -> str:
        if self.rating is not None:
            return "rated"
        return "open" if self.may_rate else "closed"


@dataclass
class ReceivedRating:
    rating: MutualRating
    scores: list[MutualRatingScore]
    appeal: RatingAppeal | None
    appeal_form: Form | None  # while the appeal window is open and none was filed


@dataclass
class AgencyPart:
    """One of the person's agencies on the page: what it rates and what it received."""

    agency: Agency
    direction: str
    counterparts: list[Counterpart]
    received: list[ReceivedRating]
    result: Received | None
    rating_open: bool
    appeal_open: bool

    @property
    def rated_count(self) -> int:
        return sum(1 for c in self.counterparts if c.rating is not None)


@dataclass
class ResultRow:
    agency: Agency
    result: Received | None


@dataclass
class OpenAppeal:
    appeal: RatingAppeal
    form: Form


@dataclass
class OfficePart:
    results: dict[str, list[ResultRow]]  # by direction: departments rated by streets, and the other way
    appeals: list[OpenAppeal]
    criteria: dict[str, list[RatingCriterion]] = field(default_factory=dict)
    admin_url: str = ""


def _ratings_with_details() -> Any:
    scores = MutualRatingScore.objects.select_related("criterion").order_by("criterion__position", "pk")
    return MutualRating.objects.select_related("rater", "rated", "appeal").prefetch_related(
        Prefetch("scores", queryset=scores)
    )


def _appeal_of(rating: MutualRating) -> RatingAppeal | None:
    try:
        return rating.appeal
    except RatingAppeal.DoesNotExist:
        return None


def _agency_part(agency: Agency, month: date, bound: dict[str, Form]) -> AgencyPart | None:
    direction = selectors.direction_of(agency)
    if direction is None:
        return None
    rating_open, appeal_open = selectors.rating_open(month), selectors.appeal_open(month)
    given = {r.rated_id: r for r in _ratings_with_details().filter(month=month, rater=agency)}
    worked = selectors.worked_with(agency, month)
    counterparts = [
        Counterpart(
            agency=other,
            worked=worked.get(other.pk, 0),
            rating=given.get(other.pk),
            may_rate=rating_open and (other.pk not in given or _appeal_of(given[other.pk]) is None),
        )
        for other in selectors.counterparts(agency)
    ]
    # Those the agency worked with this month first, the most worked-with at the top; then by code.
    counterparts.sort(key=lambda c: (-c.worked, c.agency.code))
    received = []
    for rating in _ratings_with_details().filter(month=month, rated=agency).order_by("rater__code"):
        appeal = _appeal_of(rating)
        form = None
        if appeal is None and appeal_open:
            form = bound.get(f"appeal-{rating.pk}") or AppealForm(auto_id=f"id_appeal_{rating.pk}_%s")
        received.append(ReceivedRating(rating, list(rating.scores.all()), appeal, form))
    return AgencyPart(
        agency=agency,
        direction=direction,
        counterparts=counterparts,
        received=received,
        result=received_scores(month, [agency.pk]).get(agency.pk),
        rating_open=rating_open,
        appeal_open=appeal_open,
    )


def _office_part(user: Any, month: date, bound: dict[str, Form]) -> OfficePart:
    results = received_scores(month)

    def rows(agencies: Any) -> list[ResultRow]:
        out = [ResultRow(a, results.get(a.pk)) for a in agencies]
        # The best received score first; agencies nobody rated at the bottom.
        out.sort(key=lambda r: (r.result is None, -(r.result.score if r.result else 0), r.agency.code))
        return out

    open_appeals = (
        RatingAppeal.objects.filter(state=AppealState.OPEN)
        .select_related("rating__rater", "rating__rated", "filed_by")
        .prefetch_related(
            Prefetch(
                "rating__scores",
                queryset=MutualRatingScore.objects.select_related("criterion").order_by(
                    "criterion__position"
                ),
            )
        )
        .order_by("filed_at", "pk")  # the longest waiting first
    )
    appeals = [
        OpenAppeal(a, bound.get(f"decide-{a.pk}") or AppealDecisionForm(auto_id=f"id_decide_{a.pk}_%s"))
        for a in open_appeals
    ]
    criteria: dict[str, list[RatingCriterion]] = {d: [] for d in RatingDirection.values}
    for criterion in RatingCriterion.objects.filter(is_active=True).order_by("direction", "position", "id"):
        criteria[criterion.direction].append(criterion)
    admin_url = ""
    if permissions.may_use_admin_site(user):
        try:
            admin_url = reverse("admin:grievances_ratingcriterion_changelist")
        except NoReverseMatch:  # the admin not mounted (a trimmed deployment)
            admin_url = ""
    return OfficePart(
        results={
            RatingDirection.STREET_RATES_DEPARTMENT: rows(selectors.departments()),
            RatingDirection.DEPARTMENT_RATES_STREET: rows(selectors.streets()),
        },
        appeals=appeals,
        criteria=criteria,
        admin_url=admin_url,
    )


def _may_see(user: Any) -> bool:
    return bool(permissions.acts_for_office(user) or permissions.agencies_of(user))


def render_ratings(
    request: HttpRequest, month_text: str | None, *, bound: dict[str, Form] | None = None, status: int = 200
) -> HttpResponse:
    user = request.user
    if not _may_see(user):
        raise PermissionDenied(_("Mutual ratings are for streets, departments and the editorial office."))
    context: dict[str, Any] = {"month_text": month_text or "", "month_error": ""}
    try:
        month = parse_month(month_text)
    except BadMonth as error:
        context["month_error"] = str(error)
        return render(request, "grievances/ratings/ratings.html", context, status=400)
    bound = bound or {}
    own = _own_agencies(user)
    parts = [p for p in (_agency_part(a, month, bound) for a in own) if p is not None]
    this_month = month_start(selectors.today())
    context.update(
        {
            "month": month,
            "month_text": f"{month:%Y-%m}",
            "previous_month": selectors.previous_month(month),
            "next_month": selectors.next_month(month) if month < this_month else None,
            "rating_closes": selectors.rating_closes(month),
            "appeal_closes": selectors.appeal_closes(month),
            "parts": parts,
            "not_taking_part": [a for a in own if selectors.direction_of(a) is None],
            "office": _office_part(user, month, bound) if permissions.acts_for_office(user) else None,
        }
    )
    return render(request, "grievances/ratings/ratings.html", context, status=status)


@login_required
def ratings(request: HttpRequest) -> HttpResponse:
    return render_ratings(request, request.GET.get("month"))


# --- The rating form ----------------------------------------------------------------------------------------


@login_required
def rating_form(request: HttpRequest, month: str, rated_id: int) -> HttpResponse:
    """One counterpart's rating for the month: a score per criterion and a comment. Given again within
    the window, it replaces the agency's earlier rating."""
    user = request.user
    try:
        first_day = parse_month(month)
    except BadMonth:
        raise Http404("no such month") from None
    rated = get_object_or_404(Agency, pk=rated_id, is_active=True)
    raters = [a for a in _own_agencies(user) if selectors.direction_between(a, rated) is not None]
    if not raters:
        raise PermissionDenied(_("Only staff of a street or a department that rates this agency rate it."))
    wanted = request.POST.get("rater") or request.GET.get("rater")
    rater = next((a for a in raters if str(a.pk) == wanted), raters[0])
    # Not None: the rater was chosen among the agencies that rate ``rated``.
    direction = selectors.direction_between(rater, rated) or ""
    criteria = selectors.criteria(direction)
    existing = _ratings_with_details().filter(month=first_day, rater=rater, rated=rated).first()
    appeal = _appeal_of(existing) if existing else None
    frozen = ""
    if not selectors.rating_open(first_day):
        frozen = _("Ratings of %(month)s closed on %(day)s.") % {
            "month": f"{first_day:%Y-%m}",
            "day": f"{selectors.rating_closes(first_day):%Y-%m-%d}",
        }
    elif appeal is not None:
        frozen = _("The rated agency appealed this rating: it can no longer be changed.")
    elif not criteria:
        frozen = _("The editorial office has set no criteria for this direction yet.")
    initial: dict[str, Any] = {}
    if existing is not None:
        initial = {f"criterion_{s.criterion_id}": s.score for s in existing.scores.all()}
        initial["comment"] = existing.comment
    form = RatingForm(request.POST if request.method == "POST" else None, criteria=criteria, initial=initial)
    status = 200
    if request.method == "POST":
        if frozen:
            form.add_error(None, frozen)
            status = 409
        elif form.is_valid():
            try:
                rating = rating_submit(
                    actor=user,
                    rater=rater,
                    rated=rated,
                    month=first_day,
                    scores=form.scores(),
                    comment=form.cleaned_data["comment"],
                )
            except ApplicationError as error:
                show_refusal(form, error)
                status = error.status_code
            else:
                messages.success(
                    request,
                    _("Your rating of %(agency)s for %(month)s is saved: %(score)s.")
                    % {"agency": rated.name, "month": f"{first_day:%Y-%m}", "score": rating.score},
                )
                return redirect(_month_url(first_day))
        else:
            status = 400
    context = {
        "form": form,
        "month": first_day,
        "rater": rater,
        "raters": raters,
        "rated": rated,
        "direction": direction,
        "existing": existing,
        "appeal": appeal,
        "frozen": frozen,
        "rating_closes": selectors.rating_closes(first_day),
        "total_weight": sum(c.weight for c in criteria),
    }
    return render(request, "grievances/ratings/rate.html", context, status=status)


# --- Appeals ------------------------------------------------------------------------------------------------


def _page_month(request: HttpRequest, fallback: date) -> str:
    """The month of the page the form was on (so an error re-renders that page), else the rating's."""
    text = request.POST.get("month", "")
    return text if MONTH.match(text) else f"{fallback:%Y-%m}"


@login_required
@require_POST
def appeal_file(request: HttpRequest, rating_id: int) -> HttpResponse:
    rating = get_object_or_404(MutualRating.objects.select_related("rated", "rater"), pk=rating_id)
    if not acts_for(request.user, rating.rated_id):
        raise PermissionDenied(_("Only the rated agency appeals its rating."))
    month_text = _page_month(request, rating.month)
    key = f"appeal-{rating.pk}"
    form = AppealForm(request.POST, auto_id=f"id_appeal_{rating.pk}_%s")

    def rerender(status: int) -> HttpResponse:
        return render_ratings(request, month_text, bound={key: form}, status=status)

    if not form.is_valid():
        return rerender(400)
    try:
        rating_appeal_file(actor=request.user, rating=rating, reason=form.cleaned_data["reason"])
    except ApplicationError as error:
        return fix_or_report(request, error, form, rerender, _month_url(rating.month))
    messages.success(
        request,
        _("Your appeal against the rating by %(agency)s is with the editorial office.")
        % {"agency": rating.rater.name},
    )
    return redirect(f"{reverse('grievances:ratings')}?month={month_text}")


@login_required
@require_POST
def appeal_decide(request: HttpRequest, appeal_id: int) -> HttpResponse:
    if not permissions.acts_for_office(request.user):
        raise PermissionDenied(_("Only the editorial office decides appeals."))
    appeal = get_object_or_404(RatingAppeal.objects.select_related("rating"), pk=appeal_id)
    month_text = _page_month(request, appeal.rating.month)
    key = f"decide-{appeal.pk}"
    form = AppealDecisionForm(request.POST, auto_id=f"id_decide_{appeal.pk}_%s")

    def rerender(status: int) -> HttpResponse:
        return render_ratings(request, month_text, bound={key: form}, status=status)

    if not form.is_valid():
        return rerender(400)
    upheld = form.cleaned_data["outcome"] == "upheld"
    try:
        rating_appeal_decide(
            actor=request.user, appeal=appeal, upheld=upheld, decision=form.cleaned_data["decision"]
        )
    except ApplicationError as error:
        return fix_or_report(request, error, form, rerender, _month_url(appeal.rating.month))
    messages.success(
        request,
        _("Appeal upheld: the rating no longer counts.")
        if upheld
        else _("Appeal rejected: the rating stands."),
    )
    return redirect(f"{reverse('grievances:ratings')}?month={month_text}")
