"""Each chart of the dashboard as one table: the page shows the table (with a caption) beside the chart,
``static/grievances/dashboard.js`` draws the chart from the table's plotted columns (``Chart.spec``, embedded
with json_script), and the Excel export writes the same table. One table, three views of it: they cannot
disagree."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from arbitration.dashboard import DisputeDashboard
from grievances.dashboard.figures import GrievanceDashboard
from grievances.kpis import Figures

# The figures page's headings (grievances/views/figures.py): the same words for the same rates.
RATE_HEADINGS: dict[str, Promise] = {
    "first_dispatch_success_rate": gettext_lazy("First dispatch accepted"),
    "return_rate": gettext_lazy("Returned at least once"),
    "redo_rate": gettext_lazy("Redone at least once"),
    "on_time_acceptance_rate": gettext_lazy("Accepted on time"),
    "on_time_completion_rate": gettext_lazy("Resolved on time"),
    "satisfaction_rate": gettext_lazy("Satisfied"),
}
# The five the field reads first, drawn per agency and as trends; on-time acceptance stays in the tables.
PLOTTED_RATES = (
    "first_dispatch_success_rate",
    "return_rate",
    "redo_rate",
    "on_time_completion_rate",
    "satisfaction_rate",
)
CATEGORY_RATES = ("first_dispatch_success_rate", "return_rate", "satisfaction_rate")
KINDS = ("text", "int", "rate", "days", "number", "date", "link")
NUMERIC = frozenset({"int", "rate", "days", "number"})
DASH = "—"


@dataclass(frozen=True)
class Cell:
    text: str
    numeric: bool = False
    url: str = ""


@dataclass(frozen=True)
class Column:
    heading: str
    kind: str = "int"  # one of KINDS; a rate is a fraction (0.988), shown and exported as a percentage
    plotted: bool = False

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC


@dataclass
class Chart:
    slug: str
    title: str
    kind: str  # line, bar, hbar (horizontal), stack, hstack, pie, or table (no chart)
    columns: list[Column]
    rows: list[list[Any]]
    about: str = ""
    empty: bool = False
    empty_text: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def has_chart(self) -> bool:
        return self.kind != "table"

    def shown_rows(self) -> list[list[Cell]]:
        return [
            [
                Cell(
                    cell_text(value, column.kind),
                    column.numeric,
                    value[1] if column.kind == "link" and value else "",
                )
                for value, column in zip(row, self.columns, strict=True)
            ]
            for row in self.rows
        ]

    def body_html(self) -> SafeString:
        """The table's rows, every text escaped. Built here rather than by template loops: a two-year range
        has 730 of them, which the template language takes a hundred milliseconds to render."""
        rows = []
        for row in self.shown_rows():
            cells = [f'<th scope="row">{escape(row[0].text)}</th>']
            for cell in row[1:]:
                if cell.url:
                    cells.append(f'<td><a href="{escape(cell.url)}">{escape(cell.text)}</a></td>')
                elif cell.numeric:
                    cells.append(f'<td class="num">{escape(cell.text)}</td>')
                else:
                    cells.append(f"<td>{escape(cell.text)}</td>")
            rows.append(f"<tr>{''.join(cells)}</tr>")
        return mark_safe("\n".join(rows))  # noqa: S308 (every text above is escaped)

    def spec(self) -> dict[str, Any]:
        """What dashboard.js draws: labels from the first column, one series per plotted column."""
        plotted = [(i, c) for i, c in enumerate(self.columns) if c.plotted]
        unit = plotted[0][1].kind if plotted else "int"
        return {
            "kind": self.kind,
            "title": self.title,
            "unit": {"rate": "%", "days": _("days")}.get(unit, ""),
            "labels": [cell_text(row[0], self.columns[0].kind) for row in self.rows],
            "series": [
                {"name": column.heading, "data": [chart_value(row[i], column.kind) for row in self.rows]}
                for i, column in plotted
            ],
        }

    def export_url(self, query: str) -> str:
        return f"{reverse('grievances:dashboard_export', args=[self.slug])}?{query}"


def cell_text(value: Any, kind: str) -> str:
    if value is None:
        return DASH
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "days":
        return f"{value:.1f}"
    if kind == "number":
        return f"{value:.2f}"
    if kind == "int":
        return f"{value:,}"
    if kind == "date":
        return value.isoformat() if isinstance(value, date) else str(value)
    if kind == "link":
        return str(value[0])
    return str(value)


def chart_value(value: Any, kind: str) -> float | int | None:
    if value is None:
        return None
    if kind == "rate":
        return round(value * 100, 1)
    return value


# --- Grievances --------------------------------------------------------------------------------------------


def _rate_columns(plotted: tuple[str, ...]) -> list[Column]:
    return [Column(str(heading), "rate", name in plotted) for name, heading in RATE_HEADINGS.items()]


def _rates(figures: Figures) -> list[Any]:
    return [getattr(figures, name) for name in RATE_HEADINGS]


def grievance_charts(d: GrievanceDashboard) -> list[Chart]:
    empty = d.empty
    no_grievances = _("No grievance was received in this period.")
    received, dispatched = _("Received"), _("Dispatched")
    period_heading = {"day": _("Day"), "week": _("Week starting"), "month": _("Month")}[d.period]
    return [
        Chart(
            "daily",
            _("Grievances per day"),
            "line",
            [Column(_("Day"), "date"), Column(received, plotted=True), Column(dispatched, plotted=True)],
            [[f.key, f.received, f.dispatched] for f in d.per_day],
            about=_("Received and dispatched, by the day the grievance was received."),
            empty=empty,
            empty_text=no_grievances,
        ),
        Chart(
            "categories",
            _("Grievances by category"),
            "hbar",
            [
                Column(pgettext("grievance", "Category"), "text"),
                Column(received, plotted=True),
                *(Column(str(RATE_HEADINGS[n]), "rate") for n in CATEGORY_RATES),
            ],
            [[f.label, f.received, *(getattr(f, n) for n in CATEGORY_RATES)] for f in d.per_category],
            about=_("Most received first."),
            empty=empty,
            empty_text=no_grievances,
        ),
        Chart(
            "agency_rates",
            _("Rates per agency first asked"),
            "hbar",
            [
                Column(_("Agency first asked"), "text"),
                Column(received),
                *_rate_columns(PLOTTED_RATES),
                Column(_("Mean rating"), "number"),
            ],
            [[f.label, f.received, *_rates(f), f.mean_rating] for f in d.per_agency],
            about=_(
                "Each rate is over the grievances it can apply to: first dispatch over those the first "
                "agency decided, returns over those dispatched, redo over those ever resolved, on time "
                "over those resolved, satisfaction over the ratings."
            ),
            empty=empty,
            empty_text=no_grievances,
        ),
        Chart(
            "trends",
            _("Rates over time"),
            "line",
            [
                Column(period_heading, "text"),
                Column(received),
                *_rate_columns(PLOTTED_RATES),
                Column(_("Mean rating"), "number"),
            ],
            [[f.label, f.received, *_rates(f), f.mean_rating] for f in d.trend],
            about=_("All the grievances shown, by the period they were received in."),
            empty=empty,
            empty_text=no_grievances,
        ),
    ]


# --- Disputes ----------------------------------------------------------------------------------------------


def dispute_charts(d: DisputeDashboard, *, today: date) -> list[Chart]:
    no_disputes = _("No dispute was filed in this period.")
    open_, closed, total = _("Open"), _("Closed"), _("Total")
    follow_ups = Chart(
        "follow_ups",
        _("Follow-ups of rulings due"),
        "hstack",
        [
            Column(_("Agency"), "text"),
            Column(_("Overdue"), plotted=True),
            Column(_("Due within 7 days"), plotted=True),
            Column(_("Due later"), plotted=True),
            Column(_("Open in all")),
        ],
        [[r.label, r.overdue, r.due_soon, r.later, r.total] for r in d.follow_ups],
        about=_("Open follow-ups as they stand today, whenever their ruling was issued."),
        empty=not d.follow_ups,
        empty_text=_("No follow-up is open."),
    )
    due_list = Chart(
        "follow_up_list",
        _("Follow-ups overdue or due within 7 days"),
        "table",
        [
            Column(_("Due date"), "date"),
            Column(_("Agency"), "text"),
            Column(_("What to do"), "text"),
            Column(_("Ruling"), "link"),
            Column(_("Overdue"), "text"),
        ],
        [
            [
                item.due_date,
                item.agency.name,
                item.description[:120],
                (
                    f"#{item.ruling_id} {item.ruling.dispute.title}",
                    reverse("arbitration:ruling_detail", args=[item.ruling_id]),
                ),
                _("Yes") if item.due_date < today else "",
            ]
            for item in d.follow_ups_due
        ],
        empty=not d.follow_ups_due,
        empty_text=_("Nothing is overdue or due within 7 days."),
    )
    kinds = [*d.kinds, *([d.all_kinds] if d.all_kinds else [])]
    return [
        Chart(
            "dispute_stages",
            _("Disputes by stage"),
            "pie",
            [Column(_("Stage"), "text"), Column(open_), Column(closed), Column(total, plotted=True)],
            [[r.label, r.open, r.closed, r.total] for r in d.stages],
            about=_("Disputes filed in this period, at the stage they are in or were closed at."),
            empty=d.filed == 0,
            empty_text=no_disputes,
        ),
        Chart(
            "dispute_kinds",
            _("Disputes by kind"),
            "stack",
            [
                Column(_("Kind"), "text"),
                Column(open_, plotted=True),
                Column(closed, plotted=True),
                Column(total),
            ],
            [[r.label, r.open, r.closed, r.total] for r in d.kinds],
            empty=d.filed == 0,
            empty_text=no_disputes,
        ),
        Chart(
            "time_to_ruling",
            _("Time to ruling"),
            "bar",
            [
                Column(_("Kind"), "text"),
                Column(_("Ruled")),
                Column(_("Median, days"), "days", plotted=True),
                Column(_("Mean, days"), "days", plotted=True),
            ],
            [[r.label or _("All kinds"), r.ruled, r.median_days, r.mean_days] for r in kinds],
            about=_("From filing to the first ruling, decision or confirmed agreement, in calendar days."),
            empty=not d.all_kinds or d.all_kinds.ruled == 0,
            empty_text=_("No dispute filed in this period has been ruled yet."),
        ),
        Chart(
            "overdue_stages",
            _("Overdue stages"),
            "bar",
            [
                Column(_("Stage"), "text"),
                Column(_("Open now")),
                Column(_("Past its deadline now"), plotted=True),
                Column(_("Stalled in this period"), plotted=True),
            ],
            [[r.label, r.open_now, r.past_deadline, r.stalled] for r in d.stages],
            about=_(
                "Past its deadline: open disputes whose stage's time limit has run out. Stalled: stages the "
                "sweep escalated in this period for want of a result (at leadership: flagged overdue)."
            ),
            empty=not any(r.past_deadline or r.stalled for r in d.stages),
            empty_text=_("No stage is or was overdue."),
        ),
        follow_ups,
        due_list,
    ]
