"""The dashboard's summary of the grievances: one row per day of receipt, agency first asked and category,
holding the counts of ``grievances.kpis`` (never a rate: rates are not additive, counts are). Derived data:
``grievances.services.summary`` rebuilds a day from the grievances whenever one of them changed, so a row
is never edited by hand. Imported by ``grievances.models``, so these are the grievances app's models."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from duty_lists.models import Agency


def _count(verbose_name: str) -> models.PositiveIntegerField:
    return models.PositiveIntegerField(verbose_name, default=0)


class GrievanceDailySummary(models.Model):
    day = models.DateField(_("day received"))
    # The first agency asked, as in grievance_stats' per-agency figures (none: never dispatched).
    agency = models.ForeignKey(
        Agency, null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("agency")
    )
    category = models.CharField(_("category"), max_length=100, blank=True)

    received = _count("received")
    dispatched = _count("dispatched")
    first_decided = _count("first agency decided")
    first_accepted = _count("first agency accepted")
    returned = _count("returned at least once")
    ever_resolved = _count("resolved at least once")
    redone = _count("redone at least once")
    resolved = _count("resolved")
    resolved_on_time = _count("resolved on time")
    accepted_lead_orders = _count("lead orders accepted")
    accepted_on_time = _count("lead orders accepted on time")
    ratings = _count("ratings")
    satisfied = _count("satisfied ratings")
    rating_sum = _count("sum of ratings")

    class Meta:
        verbose_name = _("grievance daily summary")
        verbose_name_plural = _("grievance daily summaries")
        constraints = [
            # Two partial constraints instead of one: NULL agencies are distinct in a plain unique index
            # (and NULLS NOT DISTINCT needs PostgreSQL 15 and is unknown to SQLite).
            models.UniqueConstraint(
                fields=["day", "agency", "category"],
                condition=Q(agency__isnull=False),
                name="summary_one_row_per_day_agency_category",
            ),
            models.UniqueConstraint(
                fields=["day", "category"],
                condition=Q(agency__isnull=True),
                name="summary_one_undispatched_row_per_day_category",
            ),
        ]
        indexes = [models.Index(fields=["agency", "day"], name="summary_agency_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.agency_id or '-'} {self.category}: {self.received}"


class SummaryCursor(models.Model):
    """Where the refresh stands: grievances changed since ``seen_until`` still have to be looked at. The one
    row is also the lock that serialises every write to the summary (see services.summary)."""

    name = models.CharField(max_length=40, unique=True)
    seen_until = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    rebuilt_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.seen_until}"


class SummaryDirtyDay(models.Model):
    """A day of receipt whose summary rows are out of date: the refresh rebuilds it and removes the row."""

    day = models.DateField(unique=True)
    marked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["day"]

    def __str__(self) -> str:
        return str(self.day)


class SummaryRebuildState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class SummaryRebuild(models.Model):
    """A full rebuild of the summary, day by day, run by a Celery worker or the management command; the
    dashboard follows its progress."""

    state = models.CharField(
        _("state"), max_length=10, choices=SummaryRebuildState.choices, default=SummaryRebuildState.QUEUED
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("requested at"), default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Written after each chunk of days, outside the chunk's transaction, for the page that follows it.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    days_total = models.PositiveIntegerField(default=0)
    days_done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("dashboard summary rebuild")
        verbose_name_plural = _("dashboard summary rebuilds")
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=SummaryRebuildState.values), name="summary_rebuild_state_valid"
            )
        ]

    def __str__(self) -> str:
        return f"rebuild #{self.pk} {self.state} {self.days_done}/{self.days_total}"

    @property
    def progress(self) -> int:
        if self.state == SummaryRebuildState.DONE:
            return 100
        return int(100 * self.days_done / self.days_total) if self.days_total else 0


class DailyDigest(models.Model):
    """The office's digest of one day (new, overdue, returned, bounced into disputes), built by the beat
    job the next morning or on request, and mailed once to the editorial office."""

    day = models.DateField(_("day"), unique=True)
    built_at = models.DateTimeField(_("built"))
    # The counts and the listed cases, as the page and the e-mail show them.
    figures = models.JSONField(default=dict)
    # Recipients it was delivered to when first built; a rebuild does not mail it again.
    mailed_to = models.PositiveIntegerField(_("mailed to"), default=0)

    class Meta:
        ordering = ["-day"]
        verbose_name = _("daily digest")
        verbose_name_plural = _("daily digests")

    def __str__(self) -> str:
        return f"digest {self.day}"
