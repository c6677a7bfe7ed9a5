"""双向考评 and the monthly ranking's weights (issue 10, items 2 and 6). Imported by ``grievances.models``,
so these are the grievances app's models.

Each month streets rate the departments they work with, and departments rate the streets, on criteria the
office sets (``RatingCriterion``, one set per direction). A rating holds one score per criterion and its
weighted mean, fixed when it is submitted so that a criterion re-weighted later does not rewrite last
month's results. The rated agency may appeal a rating; an upheld appeal voids it (it no longer counts). The
ranking adds the month's mean received score to the loop's rates with the weights the office sets."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from duty_lists.models import Agency


class RatingDirection(models.TextChoices):
    STREET_RATES_DEPARTMENT = "street_to_department", _("Streets rate departments")
    DEPARTMENT_RATES_STREET = "department_to_street", _("Departments rate streets")


class RatingCriterion(models.Model):
    direction = models.CharField(_("who rates whom"), max_length=30, choices=RatingDirection.choices)
    name = models.CharField(_("criterion"), max_length=100)
    description = models.TextField(_("what it asks"), blank=True)
    # Relative weight within the direction's criteria.
    weight = models.PositiveSmallIntegerField(_("weight"), default=1)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("in use"), default=True)

    class Meta:
        ordering = ["direction", "position", "id"]
        verbose_name = _("rating criterion")
        verbose_name_plural = _("rating criteria")
        constraints = [
            models.UniqueConstraint(fields=["direction", "name"], name="rating_criterion_unique_name"),
            models.CheckConstraint(
                condition=Q(direction__in=RatingDirection.values), name="rating_criterion_direction_valid"
            ),
            models.CheckConstraint(
                condition=Q(weight__gte=1, weight__lte=100), name="rating_criterion_weight_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class MutualRating(models.Model):
    month = models.DateField(_("month"))  # its first day
    direction = models.CharField(_("who rates whom"), max_length=30, choices=RatingDirection.choices)
    rater = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="ratings_given", verbose_name=_("rating agency")
    )
    rated = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="ratings_received", verbose_name=_("rated agency")
    )
    rated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("rated by")
    )
    # The criteria's weighted mean, 0–100, fixed at submission.
    score = models.DecimalField(_("score"), max_digits=5, decimal_places=2)
    comment = models.TextField(_("comment"), blank=True)
    # An upheld appeal voids the rating: it stays on record but no longer counts.
    voided = models.BooleanField(_("voided"), default=False)
    submitted_at = models.DateTimeField(_("submitted"))
    updated_at = models.DateTimeField(_("last changed"))

    class Meta:
        ordering = ["-month", "rater__code", "rated__code"]
        verbose_name = _("mutual rating")
        verbose_name_plural = _("mutual ratings")
        constraints = [
            models.UniqueConstraint(fields=["month", "rater", "rated"], name="mutual_rating_once_a_month"),
            models.CheckConstraint(condition=~Q(rater=models.F("rated")), name="mutual_rating_not_self"),
            models.CheckConstraint(condition=Q(month__day=1), name="mutual_rating_month_first_day"),
            models.CheckConstraint(
                condition=Q(score__gte=0, score__lte=100), name="mutual_rating_score_range"
            ),
            models.CheckConstraint(
                condition=Q(direction__in=RatingDirection.values), name="mutual_rating_direction_valid"
            ),
        ]
        indexes = [models.Index(fields=["month", "rated"], name="mutual_rating_month_rated")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.rater_id}→{self.rated_id}"


class MutualRatingScore(models.Model):
    rating = models.ForeignKey(MutualRating, on_delete=models.CASCADE, related_name="scores")
    criterion = models.ForeignKey(RatingCriterion, on_delete=models.PROTECT, related_name="+")
    score = models.PositiveSmallIntegerField(_("score"))

    class Meta:
        ordering = ["criterion__position", "criterion_id"]
        constraints = [
            models.UniqueConstraint(fields=["rating", "criterion"], name="mutual_rating_score_once"),
            models.CheckConstraint(condition=Q(score__lte=100), name="mutual_rating_criterion_score_range"),
        ]

    def __str__(self) -> str:
        return f"{self.criterion_id}: {self.score}"


class AppealState(models.TextChoices):
    OPEN = "open", _("Awaiting the office")
    UPHELD = "upheld", _("Upheld: the rating no longer counts")
    REJECTED = "rejected", _("Rejected: the rating stands")


class RatingAppeal(models.Model):
    rating = models.OneToOneField(MutualRating, on_delete=models.CASCADE, related_name="appeal")
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(_("why the rating is wrong"))
    filed_at = models.DateTimeField(_("filed"))
    state = models.CharField(_("state"), max_length=10, choices=AppealState.choices, default=AppealState.OPEN)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decision = models.TextField(_("the office's reasons"), blank=True)

    class Meta:
        ordering = ["-filed_at"]
        verbose_name = _("rating appeal")
        verbose_name_plural = _("rating appeals")
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=AppealState.values), name="rating_appeal_state_valid"
            ),
            models.CheckConstraint(
                condition=(Q(state=AppealState.OPEN) & Q(decided_at__isnull=True, decided_by__isnull=True))
                | (~Q(state=AppealState.OPEN) & Q(decided_at__isnull=False, decided_by__isnull=False)),
                name="rating_appeal_decided_when_closed",
            ),
        ]

    def __str__(self) -> str:
        return f"appeal of {self.rating_id} ({self.state})"


class RankingMetric(models.TextChoices):
    FIRST_DISPATCH = "first_dispatch_success_rate", _("First dispatch accepted")
    ON_TIME = "on_time_completion_rate", _("Resolved on time")
    SATISFACTION = "satisfaction_rate", _("Satisfied")
    RETURNS = "return_rate", _("Not returned")
    REDO = "redo_rate", _("Not redone")
    MUTUAL = "mutual_rating", _("双向考评 score")


class RankingWeight(models.Model):
    """The office's weight for one of the ranking's figures (a metric without a row weighs its default)."""

    metric = models.CharField(_("figure"), max_length=40, choices=RankingMetric.choices, unique=True)
    weight = models.PositiveSmallIntegerField(_("weight"))
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["metric"]
        constraints = [
            models.CheckConstraint(condition=Q(weight__lte=100), name="ranking_weight_range"),
            models.CheckConstraint(condition=Q(metric__in=RankingMetric.values), name="ranking_metric_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.metric}: {self.weight}"
