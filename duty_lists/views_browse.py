"""The public duty-list pages: the lists, one list as a tree (or as ranked search results), a duty with its
history, the editions and what each published; and the officers' publish page.

Everything here reads published content through the selectors, which are public by design (DESIGN.md §6:
"the published duty list is public"). The list page runs a fixed number of queries whatever the list's
size (tests/test_browse_pages.py pins it); a large list opens one category at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from itertools import groupby
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import Count, Prefetch, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from duty_lists import permissions, selectors, services
from duty_lists.diff import compare, lead_agency_id
from duty_lists.forms import BrowseFilterForm, PublishForm
from duty_lists.models import (
    Agency,
    Classification,
    Duty,
    DutyList,
    DutyRevision,
    Edition,
    Participation,
    Role,
)
from duty_lists.search import search_revisions

# Above this many duties in force, the list page shows the categories with their counts and opens one
# category at a time (``?category=03``) instead of rendering thousands of rows.
LARGE_LIST = 400
TREE_PAGE_SIZE = LARGE_LIST  # a list small enough for the tree is one page; a huge category pages
SEARCH_PAGE_SIZE = 50
RULING_PREFIX = "arbitration.ruling:"


# --- Helpers ---------------------------------------------------------------------------------------------


def end_of_day(day: date) -> datetime:
    """The last instant of ``day``, local time: "as of 2026-03-01" is the list as it stood at the end of
    that day, so an edition published that afternoon counts."""
    return datetime.combine(day, time.max, tzinfo=timezone.get_current_timezone())


def _list_or_404(code: str) -> DutyList:
    return get_object_or_404(selectors.duty_lists_public(), code=code)


def _with_agencies(queryset: QuerySet[DutyRevision]) -> QuerySet[DutyRevision]:
    """What a row of the tree shows: structure and agencies, without the legal bases."""
    return queryset.select_related("classification__category").prefetch_related(
        Prefetch(
            "participations",
            queryset=Participation.objects.select_related("agency").order_by("position", "id"),
        )
    )


def export_url(duty_list: DutyList, **filters: str) -> str:
    """The API's Excel export of what a page shows, with the page's filters. The export is public like the
    list (``DutyExportApi``: AllowAny, session or token), so the page links it rather than exporting again;
    it takes the same filters with the same meaning, including ``as_of`` as a date or an instant."""
    query = {"list": duty_list.code, **{name: value for name, value in filters.items() if value}}
    return f"{reverse('api:duty_export')}?{urlencode({**query, 'format': 'xlsx'})}"


def may_propose(user: Any) -> bool:
    return bool(
        user.is_authenticated
        and (user.is_superuser or permissions.has_any_role(user, {Role.AGENCY_STAFF, Role.EDITORIAL_OFFICER}))
    )


def may_publish(user: Any) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or permissions.is_editorial_officer(user)))


# --- The lists -------------------------------------------------------------------------------------------


def duty_list_index(request: HttpRequest) -> HttpResponse:
    """Every list with its latest edition and the number of duties in force."""
    duty_lists = list(selectors.duty_lists_public())
    latest: dict[int, Edition] = {}
    for edition in Edition.objects.filter(duty_list__in=duty_lists).order_by("duty_list_id", "-number"):
        latest.setdefault(edition.duty_list_id, edition)
    counts = dict(
        selectors.revisions_in_force(with_content=False)
        .order_by()
        .values_list("duty_list_id")
        .annotate(n=Count("id"))
        .values_list("duty_list_id", "n")
    )
    rows = [{"list": d, "edition": latest.get(d.pk), "count": counts.get(d.pk, 0)} for d in duty_lists]
    return render(request, "duty_lists/browse/index.html", {"rows": rows})


@dataclass
class ClassificationNode:
    classification: Classification
    count: int = 0
    revisions: list[DutyRevision] = field(default_factory=list)


@dataclass
class CategoryNode:
    code: str
    name: str
    count: int = 0
    classifications: list[ClassificationNode] = field(default_factory=list)
    revisions_shown: bool = False


def _structure(duty_list: DutyList, counts: dict[int, int]) -> list[CategoryNode]:
    """Categories → classifications with their counts of matching duties; empty branches left out."""
    classifications = Classification.objects.filter(duty_list=duty_list).select_related("category")
    ordered = sorted(
        classifications,
        key=lambda c: (c.category.position, c.category.code, c.position, c.code),
    )
    tree: list[CategoryNode] = []
    for _category_id, members in groupby(ordered, key=lambda c: c.category_id):
        nodes = [ClassificationNode(c, counts.get(c.pk, 0)) for c in members]
        nodes = [n for n in nodes if n.count]
        if nodes:
            category = nodes[0].classification.category
            tree.append(CategoryNode(category.code, category.name, sum(n.count for n in nodes), nodes))
    return tree


def _fill(tree: list[CategoryNode], revisions: Iterable[DutyRevision]) -> None:
    by_classification: dict[int, ClassificationNode] = {
        node.classification.pk: node for category in tree for node in category.classifications
    }
    categories = {node.classification.pk: category for category in tree for node in category.classifications}
    for revision in revisions:
        node = by_classification.get(revision.classification_id)
        if node is not None:
            node.revisions.append(revision)
            categories[revision.classification_id].revisions_shown = True


def duty_list_detail(request: HttpRequest, code: str) -> HttpResponse:
    """One list: a tree of category → classification → duty, or ranked search results.

    Queries, whatever the size: the list, its latest edition, the agencies for the filter, the counts, the
    structure, then one page of duties with their agencies (count, rows, participations).
    """
    duty_list = _list_or_404(code)
    form = BrowseFilterForm(request.GET)
    filters = form.cleaned_data if form.is_valid() else {}
    as_of_day: date | None = filters.get("as_of")
    as_of = end_of_day(as_of_day) if as_of_day else None

    in_force = selectors.revisions_in_force(duty_list=duty_list, as_of=as_of, with_content=False)
    agencies = list(
        Agency.objects.filter(participations__revision__in=in_force.values("pk"))
        .distinct()
        .order_by("level", "code")
    )
    matching = in_force
    if agency_code := filters.get("agency"):
        matching = matching.filter(participations__agency__code=agency_code)
    if duty_type := filters.get("duty_type"):
        matching = matching.filter(duty_type=duty_type)
    if layer := filters.get("layer"):
        matching = matching.filter(layer=layer)

    counts = dict(
        matching.order_by()
        .values_list("classification_id")
        .annotate(n=Count("id"))
        .values_list("classification_id", "n")
    )
    tree = _structure(duty_list, counts)
    category_code = filters.get("category") or ""
    q = filters.get("q") or ""
    scope = matching
    if category_code:
        tree = [node for node in tree if node.code == category_code]
        scope = matching.filter(classification__category__code=category_code)
    total = sum(node.count for node in tree)

    page: Page[DutyRevision] | None = None
    if q:
        mode = "search"
        results = _with_agencies(search_revisions(scope, q))
        page = Paginator(results, SEARCH_PAGE_SIZE).get_page(request.GET.get("page"))
    elif category_code or total <= LARGE_LIST:
        mode = "tree"
        ordered = _with_agencies(scope).order_by(
            "classification__category__position",
            "classification__category__code",
            "classification__position",
            "classification__code",
            "code",
        )
        page = Paginator(ordered, TREE_PAGE_SIZE).get_page(request.GET.get("page"))
        _fill(tree, page.object_list)
    else:
        mode = "overview"  # too many to render: categories with counts, each opened on its own URL

    context = {
        "duty_list": duty_list,
        "latest_edition": selectors.editions_of(duty_list).first(),
        "form": form,
        "filters": filters,
        "agencies": agencies,
        "tree": tree,
        "total": total,
        "mode": mode,
        "page": page,
        "q": q,
        "category_code": category_code,
        "as_of": as_of_day,
        "is_filtered": bool(
            filters.get("agency") or filters.get("duty_type") or filters.get("layer") or category_code
        ),
        "large_list": LARGE_LIST,
        "may_propose": may_propose(request.user),
        "export_url": export_url(
            duty_list,
            q=q,
            agency=filters.get("agency") or "",
            duty_type=filters.get("duty_type") or "",
            layer=filters.get("layer") or "",
            category=category_code,
            as_of=as_of_day.isoformat() if as_of_day else "",
        ),
    }
    if may_publish(request.user):
        context["pending_count"] = selectors.pending_revisions(duty_list).count()
    return render(request, "duty_lists/browse/list_detail.html", context)


def duty_search(request: HttpRequest) -> HttpResponse:
    """Search the duties in force of every list, or of one (``?list=``), best match first.

    Queries, whatever the size: the lists, the search (an EXISTS check for a query of several terms, the
    count, one page), and the page's agencies.
    """
    q = " ".join(request.GET.get("q", "").split())[:200]
    duty_lists = list(selectors.duty_lists_public())
    code = request.GET.get("list") or ""
    chosen = next((d for d in duty_lists if d.code == code), None)
    page: Page[DutyRevision] | None = None
    if q:
        scope = selectors.revisions_in_force(duty_list=chosen, with_content=False)
        results = _with_agencies(search_revisions(scope, q)).select_related("duty_list")
        page = Paginator(results, SEARCH_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "q": q,
        "duty_lists": duty_lists,
        "chosen": chosen,
        "page": page,
        # One list's results only: the export's columns are the import template's, which name no list.
        "export_url": export_url(chosen, q=q) if chosen is not None and q else "",
    }
    return render(request, "duty_lists/browse/search.html", context)


# --- A duty ----------------------------------------------------------------------------------------------


@dataclass
class HistoryEntry:
    revision: DutyRevision
    lead: Participation | None
    lead_changed: bool


def duty_detail(request: HttpRequest, code: str, duty_code: str) -> HttpResponse:
    """A duty as published (now, or ``?as_of=``), and every published revision of it."""
    duty_list = _list_or_404(code)
    duty = get_object_or_404(Duty, duty_list=duty_list, code=duty_code)
    history = list(selectors.duty_history(duty).select_related("amendment", "amendment__proposing_agency"))
    if not history:
        raise Http404("not published")  # pending content is not public until an edition publishes it

    as_of_day: date | None = None
    form = BrowseFilterForm(request.GET)
    if form.is_valid():
        as_of_day = form.cleaned_data.get("as_of")
    if as_of_day is not None:
        moment = end_of_day(as_of_day)
        shown = next(
            (
                r
                for r in history
                if r.valid_from is not None
                and r.valid_from <= moment
                and (r.valid_until is None or r.valid_until > moment)
            ),
            None,
        )
    else:
        shown = next((r for r in history if r.valid_until is None), None)
    not_in_force = shown is None or shown.is_removed
    latest = history[0]

    entries = []
    for i, revision in enumerate(history):
        previous = history[i + 1] if i + 1 < len(history) else None
        entries.append(
            HistoryEntry(
                revision,
                revision.lead,
                previous is not None and lead_agency_id(previous) != lead_agency_id(revision),
            )
        )
    context = {
        "duty_list": duty_list,
        "duty": duty,
        "revision": shown if shown is not None else latest,
        "not_in_force": not_in_force,
        "as_of": as_of_day,
        "history": entries,
        "ruling_ref": latest.source_ref if latest.source_ref.startswith(RULING_PREFIX) else "",
        "may_propose": may_propose(request.user) and not not_in_force and as_of_day is None,
    }
    return render(request, "duty_lists/browse/duty_detail.html", context)


# --- Editions --------------------------------------------------------------------------------------------


def edition_list(request: HttpRequest, code: str) -> HttpResponse:
    duty_list = _list_or_404(code)
    editions = selectors.editions_of(duty_list).annotate(revision_count=Count("revisions"))
    return render(
        request, "duty_lists/browse/edition_list.html", {"duty_list": duty_list, "editions": editions}
    )


def edition_detail(request: HttpRequest, code: str, number: int) -> HttpResponse:
    """What an edition published, against the edition before it. Only the duties it touched are read, so
    an edition of ten changes in a list of four thousand duties is cheap."""
    duty_list = _list_or_404(code)
    edition = get_object_or_404(selectors.editions_of(duty_list), number=number)
    previous = selectors.editions_of(duty_list).filter(number__lt=number).first()
    diff = selectors.edition_diff(previous, edition)
    amendments = edition.amendments.select_related("proposing_agency", "duty").order_by("pk")
    context = {
        "duty_list": duty_list,
        "edition": edition,
        "previous": previous,
        "next": selectors.editions_of(duty_list).filter(number__gt=number).order_by("number").first(),
        "diff": diff,
        "amendments": amendments,
        # The whole list as this edition published it: as of the instant of publication, as
        # selectors.revisions_at_edition reads it — to the microsecond, or an edition published within
        # the same second as the one before would export as that one.
        "export_url": export_url(duty_list, as_of=timezone.localtime(edition.published_at).isoformat()),
    }
    return render(request, "duty_lists/browse/edition_detail.html", context)


# --- Publishing (editorial office) -----------------------------------------------------------------------


@login_required
def edition_publish(request: HttpRequest, code: str) -> HttpResponse:
    """What awaits publication, compared with the list in force, and the form that publishes it."""
    duty_list = _list_or_404(code)
    if not may_publish(request.user):
        raise PermissionDenied(_("Only an editorial-office officer may publish an edition."))
    form = PublishForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            edition = services.edition_publish(
                actor=request.user,
                duty_list=duty_list,
                note=form.cleaned_data["note"].strip(),
                effective_date=form.cleaned_data["effective_date"],
            )
        except ApplicationError as error:
            if error.status_code == 403:
                raise PermissionDenied(error.message) from error
            form.add_error(None, error.message)
        else:
            messages.success(
                request,
                _("Edition %(n)d of %(list)s is published.") % {"n": edition.number, "list": duty_list},
            )
            return redirect(
                reverse(
                    "duty_lists:edition_detail", kwargs={"code": duty_list.code, "number": edition.number}
                )
            )

    pending = list(selectors.pending_revisions(duty_list).select_related("amendment"))
    current = selectors.revisions_in_force(duty_list=duty_list).filter(
        duty_id__in=[r.duty_id for r in pending]
    )
    diff = compare(current, pending)
    # A pending revision identical to the one in force changes nothing visible, but still gets published.
    listed = {c.revision.pk for c in (*diff.added, *diff.changed)} | {r.pk for r in pending if r.is_removed}
    context = {
        "duty_list": duty_list,
        "form": form,
        "diff": diff,
        "pending": pending,
        "unchanged": [r for r in pending if r.pk not in listed],
        "latest_edition": selectors.editions_of(duty_list).first(),
    }
    return render(request, "duty_lists/browse/publish.html", context)
