from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """A person who signs in. What they may do comes from their memberships (duty_lists.Membership)."""

    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    def __str__(self) -> str:
        return self.name or self.username


class PasswordRecord(models.Model):
    """One password a user has had: drives rotation (age of the newest) and no-reuse (the last N)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="password_records"
    )
    password_hash = models.CharField(max_length=256)
    changed_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "-changed_at"])]

    def __str__(self) -> str:
        return f"{self.user_id} @ {self.changed_at:%Y-%m-%d}"


class AuditEntry(models.Model):
    """An append-only, hash-chained record of who did what, when, why, with the state before and after.

    ``entry_hash`` covers every field of the row and the previous row's hash, so editing, deleting or
    inserting a row anywhere breaks the chain from that point on (``manage.py verify_audit`` finds it).
    """

    seq = models.PositiveBigIntegerField(_("no."), unique=True, editable=False)
    at = models.DateTimeField(_("time"), editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("account"),
    )
    actor_repr = models.CharField(_("actor"), max_length=200)
    action = models.CharField(_("action"), max_length=100, db_index=True)
    object_type = models.CharField(_("object type"), max_length=100, blank=True)
    object_id = models.CharField(_("object id"), max_length=100, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    prev_hash = models.CharField(_("previous hash"), max_length=64, editable=False)
    entry_hash = models.CharField(_("hash"), max_length=64, unique=True, editable=False)

    class Meta:
        ordering = ["-seq"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        # Titles and breadcrumbs of the admin read like the list: the action by its label, not its code.
        from core.actions import action_label

        return f"#{self.seq} {action_label(self.action)} · {self.actor_repr}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise PermissionError("The audit log is append-only: entries are never edited.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise PermissionError("The audit log is append-only: entries are never deleted.")


class AuditChainHead(models.Model):
    """A single row holding the newest hash. Appending locks it, which orders concurrent appends into one
    chain (on PostgreSQL with SELECT ... FOR UPDATE; SQLite serialises writers anyway)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)
    entry_hash = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="audit_chain_head_singleton")]

    def __str__(self) -> str:
        return f"audit chain head #{self.seq}"


class CalendarOverride(models.Model):
    """A local exception to the official calendar: an extra day off, or a day worked after all."""

    date = models.DateField(_("date"), unique=True)
    is_working_day = models.BooleanField(_("working day"))
    note = models.CharField(_("note"), max_length=200)

    class Meta:
        ordering = ["date"]
        verbose_name = _("calendar override")
        verbose_name_plural = _("calendar overrides")

    def __str__(self) -> str:
        return f"{self.date} {'+' if self.is_working_day else '-'} {self.note}"


class Heartbeat(models.Model):
    """When each background component last proved it was alive (shown by /healthz)."""

    component = models.CharField(max_length=50, primary_key=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.component} @ {self.seen_at:%Y-%m-%d %H:%M:%S}"


class JobState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class Job(models.Model):
    """A long piece of work a person asked for (a gap search, a what-if replay), run by a Celery worker
    while the page that asked follows its progress. ``kind`` names a runner an app registered with
    ``core.jobs.register``: core knows no domain."""

    kind = models.CharField(_("kind"), max_length=50)
    params = models.JSONField(default=dict, blank=True)
    # What the job is about, for finding the latest run of it ("duty_lists.amendment:12").
    target = models.CharField(max_length=100, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=JobState.choices, default=JobState.QUEUED)
    progress = models.PositiveSmallIntegerField(_("progress"), default=0)
    stage = models.CharField(_("stage"), max_length=100, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["kind", "target", "-created_at"], name="job_kind_target")]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=JobState.values), name="job_state_valid"),
            models.CheckConstraint(condition=Q(progress__lte=100), name="job_progress_at_most_100"),
            # One run of a kind on a target at a time: a second click joins the first.
            models.UniqueConstraint(
                fields=["kind", "target"],
                condition=Q(state__in=["queued", "running"]),
                name="job_one_running_per_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} {self.state}"

    @property
    def is_running(self) -> bool:
        return self.state in (JobState.QUEUED, JobState.RUNNING)
