"""The list-health report: what a Celery task found in one list, or in all lists (``duty_list`` empty).

Imported by ``duty_lists.models`` (which registers it); it refers to the other models by name only, so that
import runs no circle. See duty_lists/health.py for what a report holds and duty_lists/services/health.py
for how one is requested and computed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ListHealthState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


HEALTH_PENDING = (ListHealthState.QUEUED, ListHealthState.RUNNING)


class ListHealthReport(models.Model):
    """One computation of the expensive findings (overlaps, quiet duties, often-returned duties). At most one
    is queued or running per scope: a second click, or the nightly run, gets the one already waiting."""

    duty_list = models.ForeignKey(
        "duty_lists.DutyList",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="health_reports",
        verbose_name=_("duty list"),
    )
    state = models.CharField(
        _("state"), max_length=10, choices=ListHealthState.choices, default=ListHealthState.QUEUED
    )
    # What the worker is doing, for the page that follows it; written outside any long transaction.
    progress = models.PositiveSmallIntegerField(_("progress"), default=0)
    stage = models.CharField(_("stage"), max_length=100, blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("requested at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("list health report")
        verbose_name_plural = _("list health reports")
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=ListHealthState.values), name="list_health_state_valid"
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="list_health_progress_at_most_100"),
            models.CheckConstraint(
                condition=~Q(state=ListHealthState.DONE) | Q(finished_at__isnull=False),
                name="list_health_done_has_finished_at",
            ),
            # One waiting or running report per scope; "all lists" (no list) is scope 0.
            models.UniqueConstraint(
                Coalesce("duty_list", Value(0)),
                condition=Q(state__in=[ListHealthState.QUEUED, ListHealthState.RUNNING]),
                name="list_health_one_pending_per_scope",
            ),
        ]
        indexes = [models.Index(fields=["state", "created_at"], name="list_health_state_created")]

    def __str__(self) -> str:
        return f"list health #{self.pk} {self.get_state_display()}"

    @property
    def is_pending(self) -> bool:
        return self.state in HEALTH_PENDING
