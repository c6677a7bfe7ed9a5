"""双向考评 (mutual ratings): streets rate the departments they work with and departments rate the streets,
once a month, on the criteria the office sets; the rated agency may appeal, the office decides.

Windows (RATING_WINDOW_CLOSES_DAY and APPEAL_WINDOW_CLOSES_DAY, kept with the calendar in
grievances.ratings.selectors): a month's ratings are given from its first day until the end of the 10th of
the next month; the rated agency may appeal until the end of the 20th; the office decides whenever it can.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from arbitration.services.notifications import notify, people_of
from core.audit import audit_record
from core.errors import ApplicationError, Conflict, PermissionRefused
from duty_lists import permissions
from duty_lists.models import Agency, Role
from grievances.ratings import selectors
from grievances.ratings.models import (
    AppealState,
    MutualRating,
    MutualRatingScore,
    RatingAppeal,
    RatingCriterion,
    RatingDirection,
)
from grievances.ratings.results import month_start
from grievances.ratings.selectors import APPEAL_WINDOW_CLOSES_DAY as APPEAL_WINDOW_CLOSES_DAY
from grievances.ratings.selectors import RATING_WINDOW_CLOSES_DAY as RATING_WINDOW_CLOSES_DAY
from grievances.services.common import is_staff_of

CRITERION_FIELDS = ("direction", "name", "description", "weight", "position", "is_active")


def criterion_field(criterion_id: int) -> str:
    """The name under which a criterion's score (and its error) travels: the rating form's field name."""
    return f"criterion_{criterion_id}"


def weighted_mean(scores: dict[int, int], weights: dict[int, int]) -> Decimal:
    """Σ weight × score / Σ weight, two decimals, half up (as the office rounds by hand)."""
    total = sum(weights[c] for c in scores)
    mean = Decimal(sum(weights[c] * scores[c] for c in scores)) / Decimal(total)
    return mean.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _ratings_url(month: date) -> str:
    return f"{reverse('grievances:ratings')}?month={month:%Y-%m}"


def _checked_scores(direction: str, scores: dict[Any, Any]) -> tuple[dict[int, int], dict[int, int]]:
    """The scores by criterion id and the criteria's weights, or an ApplicationError naming each field in
    error. Every active criterion of the direction needs a whole number from 0 to 100."""
    active = selectors.criteria(direction)
    if not active:
        raise ApplicationError(
            _("The editorial office has set no criteria for this direction yet."), code="no_criteria"
        )
    given = {}
    for key, value in scores.items():
        try:
            given[int(key)] = value
        except (TypeError, ValueError):
            continue
    errors: dict[str, list[str]] = {}
    checked: dict[int, int] = {}
    for criterion in active:
        value = given.pop(criterion.pk, None)
        field = criterion_field(criterion.pk)
        if value is None or value == "":
            errors[field] = [_("Give a score.")]
        elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
            errors[field] = [_("A whole number from 0 to 100.")]
        else:
            checked[criterion.pk] = value
    if given:
        errors["scores"] = [_("Some scores are for criteria not in use.")]
    if errors:
        raise ApplicationError(_("The rating cannot be saved as it is."), code="invalid_rating", extra=errors)
    return checked, {c.pk: c.weight for c in active}


def _snapshot(rating: MutualRating) -> dict[str, Any]:
    return {
        "score": str(rating.score),
        "comment": rating.comment,
        "scores": {str(s.criterion_id): s.score for s in rating.scores.all()},
    }


def rating_submit(
    *,
    actor: Any,
    rater: Agency,
    rated: Agency,
    month: date,
    scores: dict[int, int],
    comment: str = "",
) -> MutualRating:
    """Give (or, within the window, change) ``rater``'s rating of ``rated`` for ``month``.

    1. The actor is staff of the rater; the two rate each other (a street and a department).
    2. The month is open: its own days or the previous month's until the 10th.
    3. Every active criterion has a score 0–100; the weighted mean is fixed now.
    4. Under the rater's lock: create the rating, or update it unless an appeal was filed against it.
    Submitting the same scores and comment again changes nothing."""
    if not is_staff_of(actor, rater):
        raise PermissionRefused(_("You may rate only for your own agency."))
    if rater.pk == rated.pk:
        raise ApplicationError(_("An agency does not rate itself."), code="invalid_rating")
    direction = selectors.direction_between(rater, rated)
    if direction is None:
        raise ApplicationError(
            _("Streets rate departments and departments rate streets: these two do not rate each other."),
            code="invalid_rating_pair",
        )
    month = month_start(month)
    today = selectors.today()
    if month > today:
        raise ApplicationError(_("That month has not begun yet."), code="rating_window")
    if not selectors.rating_open(month, today):
        raise Conflict(
            _("Ratings of %(month)s closed on %(day)s.")
            % {"month": f"{month:%Y-%m}", "day": f"{selectors.rating_closes(month):%Y-%m-%d}"},
            code="rating_window",
        )
    checked, weights = _checked_scores(direction, scores)
    score = weighted_mean(checked, weights)
    comment = comment.strip()
    now = timezone.now()
    with transaction.atomic():
        # The rater's row serialises its submissions: two people of one street rating the same department
        # at once end with one rating, not a unique-constraint error.
        Agency.objects.select_for_update().get(pk=rater.pk)
        rating = (
            MutualRating.objects.select_for_update()
            .filter(month=month, rater=rater, rated=rated)
            .prefetch_related("scores")
            .first()
        )
        if rating is None:
            rating = MutualRating.objects.create(
                month=month,
                direction=direction,
                rater=rater,
                rated=rated,
                rated_by=actor,
                score=score,
                comment=comment,
                submitted_at=now,
                updated_at=now,
            )
            MutualRatingScore.objects.bulk_create(
                MutualRatingScore(rating=rating, criterion_id=c, score=s) for c, s in checked.items()
            )
            audit_record(
                actor=actor,
                action="grievances.rating.submitted",
                target=rating,
                after=_snapshot(rating),
            )
            return rating
        if RatingAppeal.objects.filter(rating=rating).exists():
            raise Conflict(
                _("The rated agency appealed this rating: it can no longer be changed."),
                code="rating_appealed",
            )
        before = _snapshot(rating)
        if before["scores"] == {str(c): s for c, s in checked.items()} and before["comment"] == comment:
            return rating  # the same rating again: nothing to change
        rating.scores.all().delete()
        MutualRatingScore.objects.bulk_create(
            MutualRatingScore(rating=rating, criterion_id=c, score=s) for c, s in checked.items()
        )
        rating.score, rating.comment, rating.rated_by, rating.updated_at = score, comment, actor, now
        rating.save(update_fields=["score", "comment", "rated_by", "updated_at"])
        audit_record(
            actor=actor,
            action="grievances.rating.updated",
            target=rating,
            before=before,
            after=_snapshot(MutualRating.objects.prefetch_related("scores").get(pk=rating.pk)),
        )
    return rating


def rating_appeal_file(*, actor: Any, rating: MutualRating, reason: str) -> RatingAppeal:
    """The rated agency asks the office to set a rating aside, until the 20th of the next month. Once per
    rating: filing again while it waits returns the appeal already filed."""
    if not is_staff_of(actor, rating.rated_id):
        raise PermissionRefused(_("Only the rated agency appeals its rating."))
    reason = reason.strip()
    if not reason:
        raise ApplicationError(
            _("Say why the rating is wrong."), code="invalid_appeal", extra={"reason": [_("Required.")]}
        )
    with transaction.atomic():
        rating = MutualRating.objects.select_for_update().select_related("rater", "rated").get(pk=rating.pk)
        existing = RatingAppeal.objects.filter(rating=rating).first()
        if existing is not None:
            if existing.state == AppealState.OPEN:
                return existing
            raise Conflict(_("This rating's appeal has been decided already."), code="appeal_decided")
        if not selectors.appeal_open(rating.month):
            raise Conflict(
                _("Appeals against ratings of %(month)s closed on %(day)s.")
                % {
                    "month": f"{rating.month:%Y-%m}",
                    "day": f"{selectors.appeal_closes(rating.month):%Y-%m-%d}",
                },
                code="appeal_window",
            )
        appeal = RatingAppeal.objects.create(
            rating=rating, filed_by=actor, reason=reason, filed_at=timezone.now()
        )
        audit_record(
            actor=actor,
            action="grievances.rating.appealed",
            target=appeal,
            reason=reason,
            after={"rating": rating.pk, "state": appeal.state},
        )
        title = _("%(rated)s appeals the rating %(rater)s gave it for %(month)s") % {
            "rated": rating.rated.name,
            "rater": rating.rater.name,
            "month": f"{rating.month:%Y-%m}",
        }
        url, key = _ratings_url(rating.month), f"rating-appeal:{appeal.pk}:filed"
        transaction.on_commit(
            lambda: notify(
                recipients=people_of(roles=[Role.EDITORIAL_OFFICER]), key=key, title=title, url=url
            )
        )
    return appeal


def rating_appeal_decide(*, actor: Any, appeal: RatingAppeal, upheld: bool, decision: str) -> RatingAppeal:
    """The office decides an appeal: upheld voids the rating (it stays on record, no longer counts);
    rejected leaves it standing. Deciding again the same way changes nothing; the other way is refused."""
    if not permissions.acts_for_office(actor):
        raise PermissionRefused(_("Only the editorial office decides appeals."))
    decision = decision.strip()
    if not decision:
        raise ApplicationError(
            _("Give the office's reasons."), code="invalid_decision", extra={"decision": [_("Required.")]}
        )
    state = AppealState.UPHELD if upheld else AppealState.REJECTED
    with transaction.atomic():
        # Rating before appeal: the lock order rating_appeal_file takes too.
        rating = MutualRating.objects.select_for_update().get(pk=appeal.rating_id)
        appeal = RatingAppeal.objects.select_for_update().get(pk=appeal.pk)
        if appeal.state != AppealState.OPEN:
            if appeal.state == state:
                return appeal
            raise Conflict(_("This appeal has been decided already."), code="appeal_decided")
        appeal.state, appeal.decided_by, appeal.decided_at, appeal.decision = (
            state,
            actor,
            timezone.now(),
            decision,
        )
        appeal.save(update_fields=["state", "decided_by", "decided_at", "decision"])
        if upheld and not rating.voided:
            rating.voided = True
            rating.save(update_fields=["voided"])
        audit_record(
            actor=actor,
            action="grievances.rating.appeal_decided",
            target=appeal,
            reason=decision,
            before={"state": AppealState.OPEN},
            after={"state": state, "rating": rating.pk, "voided": rating.voided},
        )
        parties = [rating.rater_id, rating.rated_id]
        title = (
            _("Appeal upheld: the rating of %(month)s no longer counts")
            if upheld
            else _("Appeal rejected: the rating of %(month)s stands")
        ) % {"month": f"{rating.month:%Y-%m}"}
        url, key = _ratings_url(rating.month), f"rating-appeal:{appeal.pk}:decided"
        transaction.on_commit(
            lambda: notify(
                recipients=people_of(agencies=parties), key=key, title=title, body=decision, url=url
            )
        )
    return appeal


def _refuse_duplicate_name(direction: str, name: str, pk: int | None) -> None:
    same = RatingCriterion.objects.filter(direction=direction, name=name)
    if pk is not None:
        same = same.exclude(pk=pk)
    if same.exists():
        raise ApplicationError(
            _("This direction has a criterion of that name already."),
            code="invalid_criterion",
            extra={"name": [_("Already in use.")]},
        )


def rating_criterion_save(
    *, actor: Any, criterion: RatingCriterion | None, values: dict[str, Any], reason: str = ""
) -> RatingCriterion:
    """The office adds a criterion or changes one. A criterion's direction is fixed once it exists (its
    scores belong to that direction's ratings); to retire one, set it out of use. Ratings already given
    keep the score they were given."""
    if not permissions.acts_for_office(actor):
        raise PermissionRefused(_("Only the editorial office sets the rating criteria."))
    unknown = set(values) - set(CRITERION_FIELDS)
    if unknown:
        raise ApplicationError(
            _("Unknown fields."), code="invalid_criterion", extra={k: [_("Not editable.")] for k in unknown}
        )
    errors: dict[str, list[str]] = {}
    if "name" in values and not str(values["name"]).strip():
        errors["name"] = [_("Required.")]
    if "weight" in values and not 1 <= int(values["weight"]) <= 100:
        errors["weight"] = [_("From 1 to 100.")]
    if "direction" in values and values["direction"] not in RatingDirection.values:
        errors["direction"] = [_("Unknown rating direction.")]
    if errors:
        raise ApplicationError(
            _("The criterion cannot be saved as it is."), code="invalid_criterion", extra=errors
        )
    with transaction.atomic():
        if criterion is None or criterion.pk is None:
            if "direction" not in values or "name" not in values:
                raise ApplicationError(_("Name the criterion and its direction."), code="invalid_criterion")
            _refuse_duplicate_name(values["direction"], values["name"], None)
            saved = RatingCriterion.objects.create(**values)
            audit_record(
                actor=actor,
                action="grievances.rating_criterion.created",
                target=saved,
                reason=reason,
                after={k: getattr(saved, k) for k in CRITERION_FIELDS},
            )
            return saved
        saved = RatingCriterion.objects.select_for_update().get(pk=criterion.pk)
        if "direction" in values and values["direction"] != saved.direction:
            raise Conflict(_("A criterion's direction cannot change."), code="criterion_direction")
        if "name" in values:
            _refuse_duplicate_name(saved.direction, values["name"], saved.pk)
        before = {k: getattr(saved, k) for k in CRITERION_FIELDS}
        for name, value in values.items():
            setattr(saved, name, value)
        after = {k: getattr(saved, k) for k in CRITERION_FIELDS}
        if after == before:
            return saved
        saved.save()
        audit_record(
            actor=actor,
            action="grievances.rating_criterion.updated",
            target=saved,
            reason=reason,
            before=before,
            after=after,
        )
    return saved
