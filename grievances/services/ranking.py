"""The office sets the monthly ranking's weights (grievances/ratings/ranking.py reads them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import ApplicationError, PermissionRefused
from duty_lists.permissions import acts_for_office
from grievances.ratings.models import RankingMetric, RankingWeight
from grievances.ratings.ranking import current_weights

MAX_WEIGHT = 100


def may_set_weights(user: Any) -> bool:
    return acts_for_office(user)


def ranking_weights_set(*, actor: Any, weights: Mapping[str, Any], reason: str = "") -> dict[str, int]:
    """Replace the ranking's weights with ``weights`` (every metric, each a whole number 0–100, not all 0).
    Setting the weights already in force changes and audits nothing."""
    if not may_set_weights(actor):
        raise PermissionRefused(_("Only the editorial office sets the ranking's weights."))
    errors: dict[str, list[str]] = {}
    chosen: dict[str, int] = {}
    for metric in RankingMetric.values:
        raw = weights.get(metric)
        try:
            value = int(str(raw).strip())
        except (TypeError, ValueError):
            errors[metric] = [_("Enter a whole number from 0 to 100.")]
            continue
        if not 0 <= value <= MAX_WEIGHT:
            errors[metric] = [_("Enter a whole number from 0 to 100.")]
            continue
        chosen[metric] = value
    if unknown := set(weights) - set(RankingMetric.values):
        errors["__all__"] = [_("Unknown figures: %(names)s") % {"names": ", ".join(sorted(unknown))}]
    if not errors and not any(chosen.values()):
        errors["__all__"] = [_("At least one figure must weigh more than 0.")]
    if errors:
        raise ApplicationError(_("The weights cannot be saved as they are."), code="invalid", extra=errors)
    with transaction.atomic():
        # Every row locked, in one order: two officers saving at once apply one after the other.
        list(RankingWeight.objects.select_for_update().order_by("metric"))
        before = current_weights()
        if before == chosen and RankingWeight.objects.count() == len(chosen):
            return before
        now = timezone.now()
        for metric, weight in chosen.items():
            RankingWeight.objects.update_or_create(
                metric=metric, defaults={"weight": weight, "updated_by": actor, "updated_at": now}
            )
        audit_record(
            actor=actor,
            action="grievances.ranking.weights_set",
            object_type="grievances.rankingweight",
            reason=reason,
            before=before,
            after=chosen,
        )
    return chosen
