"""Two-way work between streets and departments (街乡吹哨、部门报到; handovers both ways). Imported by
``grievances.models``, so these are the grievances app's models."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from duty_lists.models import Agency, Duty


class HandoverDirection(models.TextChoices):
    """双向派单: a street reports a district agency's matter up; a district agency passes a territorial
    matter down; a complex matter goes back up."""

    UP = "up", _("Street → district agency")
    DOWN = "down", _("District agency → street")
    BACK_UP = "back_up", _("Complex matter back up")


class HandoverState(models.TextChoices):
    REPORTED = "reported", pgettext_lazy("handover", "Reported")
    COMPLETED = "completed", _("Handover completed")
    DONE = "done", _("Done and reported back")
    REFUSED = "refused", _("Refused")


class Handover(models.Model):
    direction = models.CharField(_("direction"), max_length=10, choices=HandoverDirection.choices)
    from_agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="handovers_sent")
    to_agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="handovers_received")
    grievance = models.ForeignKey(
        "grievances.Grievance", null=True, blank=True, on_delete=models.SET_NULL, related_name="handovers"
    )
    duty = models.ForeignKey(Duty, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    matter = models.TextField(_("matter"))
    found_at = models.DateTimeField(_("found at"))
    reported_at = models.DateTimeField(_("reported at"))
    report_due = models.DateTimeField(_("report due"))
    handover_due = models.DateTimeField(_("handover due"))
    completed_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    report_back = models.TextField(_("report back"), blank=True)
    state = models.CharField(max_length=20, choices=HandoverState.choices, default=HandoverState.REPORTED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    late_flagged_at = models.DateTimeField(null=True, blank=True)
    # A matter handed back up names the handover it came down as; that one is then closed as refused.
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="back_ups",
        verbose_name=_("came down as"),
    )

    class Meta:
        ordering = ["-reported_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_agency=models.F("to_agency")), name="handover_between_two_agencies"
            ),
            models.CheckConstraint(
                condition=Q(direction=HandoverDirection.BACK_UP, parent__isnull=False)
                | (~Q(direction=HandoverDirection.BACK_UP) & Q(parent__isnull=True)),
                name="handover_back_up_names_what_came_down",
            ),
            # A matter goes back up once: a second, racing back-up of the same handover is refused.
            models.UniqueConstraint(
                fields=["parent"], condition=Q(parent__isnull=False), name="handover_one_back_up"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_agency} → {self.to_agency}: {self.matter[:40]}"

    @property
    def reported_late(self) -> bool:
        return self.reported_at > self.report_due


class Whistle(models.Model):
    """吹哨报到: a street summons named departments to a matter; each must report within minutes."""

    street = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="whistles")
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    grievance = models.ForeignKey(
        "grievances.Grievance", null=True, blank=True, on_delete=models.SET_NULL, related_name="whistles"
    )
    blown_at = models.DateTimeField()
    blown_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-blown_at"]

    def __str__(self) -> str:
        return self.title


class Summons(models.Model):
    whistle = models.ForeignKey(Whistle, on_delete=models.CASCADE, related_name="summonses")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="summonses")
    due_at = models.DateTimeField(_("report by"))
    reported_at = models.DateTimeField(_("reported at"), null=True, blank=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True)
    late_flagged_at = models.DateTimeField(_("flagged late at"), null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [models.UniqueConstraint(fields=["whistle", "agency"], name="one_summons_per_agency")]
        indexes = [
            models.Index(
                fields=["due_at"],
                condition=Q(reported_at__isnull=True, late_flagged_at__isnull=True),
                name="summons_awaiting_report",
            )
        ]

    def __str__(self) -> str:
        return f"{self.whistle} → {self.agency}"

    @property
    def is_late(self) -> bool:
        return self.reported_at is not None and self.reported_at > self.due_at
