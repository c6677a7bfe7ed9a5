"""Training the router's learned half as versions (RouterModel), from the grievances agencies accepted.

``router_training_request`` queues a version and, after commit, the Celery task that trains it;
``router_train`` does the work: it reads the window (the newest ``MAX_SAMPLES`` accepted grievances,
labelled by the agency that finally handled each), measures a candidate trained on the older part on the
newest fifth exactly as routing will use it (the list and the model together), chooses the auto-dispatch
threshold there for the office's target precision, keeps the model trained on the whole window (the
candidate and it come from one ``TextClassifier.train``, which calibrates on the same newest fifth),
stores the bytes with the metrics, and puts the version in force only when it routes the newest fifth
better than the one in force and than the list alone. ``router_model_activate`` is the officer's switch
(and the way back).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import ApplicationError, PermissionRefused
from core.queue import task
from duty_lists.permissions import is_editorial_officer
from grievances import routing
from grievances.models import Grievance, GrievanceState, RouterModel, RouterModelState

logger = logging.getLogger(__name__)

# The newest accepted grievances teach the router; older ones describe a list that may have changed.
MAX_SAMPLES = 100_000
MIN_SAMPLES = 20
# The newest fifth measures the candidate (and chooses its threshold); fewer than MIN_HELD_OUT and the
# version is stored unmeasured: an officer may still put it in force.
HELD_OUT_SHARE = 0.2
MIN_HELD_OUT = 10
MAX_HELD_OUT = 2000  # routed one by one: a few ms each
KEEP_MODELS = 5
TAUGHT_STATES = (
    GrievanceState.ACCEPTED,
    GrievanceState.IN_PROGRESS,
    GrievanceState.RESOLVED,
    GrievanceState.CLOSED,
)
PENDING = (RouterModelState.QUEUED, RouterModelState.TRAINING)
# Longer than the task's time limit (16 minutes) plus a wait in the queue.
STALE_AFTER = timedelta(hours=1)
NEVER = 1.01  # a threshold no confidence reaches: every grievance waits for a dispatcher


def _may_train(actor: Any) -> bool:
    from core.actors import SYSTEM

    return actor is SYSTEM or getattr(actor, "is_superuser", False) or is_editorial_officer(actor)


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) and getattr(actor, "pk", None) else None


def router_training_request(*, actor: Any, reason: str = "") -> RouterModel:
    """Queue a new version and the task that trains it; while one is queued or training, that one is
    returned (a second click, the nightly job and a new edition do not train twice at once)."""
    if not _may_train(actor):
        raise PermissionRefused(_("Only the editorial office retrains the router."))
    _fail_stale()
    pending = RouterModel.objects.filter(state__in=PENDING).first()
    if pending is not None:
        return pending
    try:
        with transaction.atomic():
            model = RouterModel.objects.create(
                state=RouterModelState.QUEUED,
                reason=reason[:200],
                requested_by=_user(actor),
                stage=_("Waiting for a worker"),
            )
            audit_record(actor=actor, action="grievances.router.requested", target=model, reason=reason)
            transaction.on_commit(lambda: _enqueue(model.pk))
    except IntegrityError:  # another request won the race for the one pending version
        return RouterModel.objects.filter(state__in=PENDING).get()
    return model


def _fail_stale() -> None:
    """A version still queued or training long after the task's time limit lost its worker (killed, or the
    broker forgot the task): marked failed, so that it does not block retraining for ever."""
    stale = RouterModel.objects.filter(state__in=PENDING, created_at__lt=timezone.now() - STALE_AFTER)
    for model_id in stale.values_list("pk", flat=True):
        updated = RouterModel.objects.filter(pk=model_id, state__in=PENDING).update(
            state=RouterModelState.FAILED,
            stage=_("Failed"),
            error=_("No worker finished it within %(minutes)s minutes.")
            % {"minutes": int(STALE_AFTER.total_seconds() // 60)},
        )
        if updated:
            logger.warning("router model #%s lost its worker; marked failed", model_id)


def _enqueue(model_id: int) -> None:
    task("grievances.tasks.train_router").delay(model_id)


def _progress(model_id: int, percent: int, stage: str) -> None:
    # Outside any transaction, so that the page following the training sees it at once.
    RouterModel.objects.filter(pk=model_id).update(progress=percent, stage=stage[:100])


@dataclass
class _Row:
    title: str
    details: str
    label: str
    agency_id: int
    street_id: int | None
    duty_id: int | None
    accepted_at: datetime


def _rows() -> list[_Row]:
    values = (
        Grievance.objects.filter(state__in=TAUGHT_STATES, handling_agency__isnull=False)
        .order_by("-accepted_at", "-id")
        .values_list("title", "details", "handling_agency_id", "street_id", "duty_id", "accepted_at")[
            :MAX_SAMPLES
        ]
    )
    rows = [
        _Row(
            title=title,
            details=details,
            label=routing.label_of(agency_id, street_office=agency_id == street_id),
            agency_id=agency_id,
            street_id=street_id,
            duty_id=duty_id,
            accepted_at=accepted_at or timezone.now(),
        )
        for title, details, agency_id, street_id, duty_id, accepted_at in values
    ]
    rows.reverse()  # oldest first: the classifier calibrates on its newest fold
    return rows


def _priors() -> dict[str, list[str]]:
    """Each duty in force as short documents of its lead's label: its title, keywords and synonyms, and its
    category. They teach an agency the history has not yet seen (a new duty, a new agency)."""
    documents: dict[str, list[str]] = defaultdict(list)
    for entry in routing.index().entries:
        if entry.lead_id is None and not entry.territorial:
            continue
        label = routing.label_of(entry.lead_id, street_office=entry.territorial)
        documents[label].extend(sorted(entry.terms))
        if entry.category:
            documents[label].append(entry.category)
    return dict(documents)


def _usual_duties(rows: list[_Row]) -> dict[str, int]:
    counts: dict[str, Counter[int]] = defaultdict(Counter)
    for row in rows:
        if row.duty_id is not None:
            counts[row.label][row.duty_id] += 1
    return {label: counter.most_common(1)[0][0] for label, counter in counts.items()}


def _train(rows: list[_Row], priors: dict[str, list[str]], *, holdout: int | None = None) -> routing.Learned:
    """The model of ``rows``; with ``holdout``, its ``candidate`` (fitted without the newest ``holdout``
    rows) is what the newest are measured on: one training, two fits."""
    from grievances.router_model import TextClassifier

    classifier = TextClassifier.train(
        [f"{row.title}\n{row.details}" for row in rows],
        [row.label for row in rows],
        titles=[row.title for row in rows],
        prior_documents=priors,
        holdout=holdout,
    )
    return routing.Learned(classifier=classifier, samples=len(rows), usual_duties=_usual_duties(rows))


def _history_top1(held_out: list[_Row], classifier: Any) -> float:
    """How often the model alone (no list) puts the handling agency first, in one batch."""
    from grievances.router_features import document

    probabilities = classifier.probabilities([document(f"{r.title}\n{r.details}", r.title) for r in held_out])
    labels = classifier.labels
    right = sum(labels[int(p.argmax())] == row.label for p, row in zip(probabilities, held_out, strict=True))
    return round(right / len(held_out), 4)


def _agencies(suggestions: list[routing.Suggestion]) -> list[int | None]:
    seen: list[int | None] = []
    for suggestion in suggestions:
        if suggestion.agency_id not in seen:
            seen.append(suggestion.agency_id)
    return seen


def _measure(held_out: list[_Row], using: routing.Learned | None) -> dict[str, Any]:
    """Route each held-out grievance as a dispatcher would have received it (its street, no returns yet)
    and compare with the agency that finally handled it."""
    from grievances.router_model import expected_calibration_error

    top1 = top3 = 0
    confident: list[tuple[float, bool]] = []
    for row in held_out:
        street = SimpleNamespace(pk=row.street_id, name="") if row.street_id else None
        suggestions = routing.route(row.title, row.details, street=street, k=5, using=using)
        agencies = _agencies(suggestions)
        right = bool(agencies) and agencies[0] == row.agency_id
        top1 += right
        top3 += row.agency_id in agencies[:3]
        confident.append((suggestions[0].confidence if suggestions else 0.0, right))
    n = len(held_out)
    return {
        "top1": round(top1 / n, 4),
        "top3": round(top3 / n, 4),
        "expected_calibration_error": expected_calibration_error(confident),
        "_confident": confident,
    }


def _auto_dispatch(confident: list[tuple[float, bool]], target: float) -> dict[str, Any]:
    """The lowest confidence from which the top suggestion was right at least ``target`` of the time, with
    the share of grievances it covers; none reaching it means nothing goes out without a dispatcher."""
    threshold, right, count = None, 0, 0
    for p, ok in sorted(confident, key=lambda pair: -pair[0]):
        right, count = right + ok, count + 1
        if right / count >= target:
            threshold = p
    if threshold is None:
        return {"threshold": NEVER, "coverage": 0.0, "precision": None}
    chosen = [right for p, right in confident if p >= threshold]
    return {
        "threshold": round(threshold, 4),
        "coverage": round(len(chosen) / len(confident), 4),
        "precision": round(sum(chosen) / len(chosen), 4),
    }


def router_train(
    *, actor: Any, model: RouterModel | None = None, min_samples: int = MIN_SAMPLES, reason: str = ""
) -> RouterModel | None:
    """Train ``model`` (a queued version), or a new version now (the nightly job; None when there are too
    few accepted grievances to learn from). A version already trained or training is returned unchanged.
    A failure marks the version failed with its reason; the one in force stays."""
    if not _may_train(actor):
        raise PermissionRefused(_("Only the editorial office retrains the router."))
    rows = _rows()
    if model is None:
        if len(rows) < min_samples:
            return None
        model = RouterModel.objects.create(state=RouterModelState.QUEUED, reason=reason[:200])
    with transaction.atomic():
        model = RouterModel.objects.select_for_update().get(pk=model.pk)
        if model.state != RouterModelState.QUEUED:
            return model
        model.state = RouterModelState.TRAINING
        model.stage = _("Reading accepted grievances")
        model.progress = 5
        model.save(update_fields=["state", "stage", "progress"])
    try:
        return _train_version(model, rows, actor=actor, min_samples=min_samples)
    except Exception as error:
        logger.exception("router model #%s failed to train", model.pk)
        RouterModel.objects.filter(pk=model.pk).update(
            state=RouterModelState.FAILED, error=str(error)[:2000], stage=_("Failed")
        )
        audit_record(actor=actor, action="grievances.router.failed", target=model, reason=str(error)[:500])
        model.refresh_from_db()
        return model


def _train_version(model: RouterModel, rows: list[_Row], *, actor: Any, min_samples: int) -> RouterModel:
    priors = _priors()
    if len(rows) < min_samples or len({row.label for row in rows} | set(priors)) < 2:
        raise ApplicationError(
            _(
                "Too little history to learn from: %(n)s accepted grievances of %(agencies)s agencies "
                "(at least %(min)s)."
            )
            % {"n": len(rows), "agencies": len({row.label for row in rows}), "min": min_samples},
            code="router_history_too_small",
        )
    target = float(getattr(settings, "ZHIZE_AUTO_DISPATCH_PRECISION", 0.95))
    held = int(len(rows) * HELD_OUT_SHARE)
    metrics: dict[str, Any] = {"target_precision": target, "train_size": len(rows), "test_size": 0}
    measured_on = held >= MIN_HELD_OUT and len({row.label for row in rows[:-held]} | set(priors)) >= 2
    _progress(model.pk, 15, _("Training on the window"))
    final = _train(rows, priors, holdout=held if measured_on else None)
    if measured_on:
        # The candidate is fitted without the newest fifth (which also calibrates it) and measured on its
        # newest MAX_HELD_OUT, routed one by one as a dispatcher would have received them.
        older, newest = rows[:-held], rows[-min(held, MAX_HELD_OUT) :]
        _progress(model.pk, 70, _("Measuring it on the newest fifth"))
        candidate = routing.Learned(
            classifier=final.classifier.candidate, samples=len(older), usual_duties=_usual_duties(older)
        )
        measured = _measure(newest, candidate)
        list_alone = _measure(newest, None)
        confident = measured.pop("_confident")
        metrics.update(measured)
        metrics.update(_auto_dispatch(confident, target))
        metrics.update(
            {
                "train_size": len(older),
                "test_size": len(newest),
                "list_top1": list_alone["top1"],
                "list_top3": list_alone["top3"],
                "history_top1": _history_top1(newest, candidate.classifier),
                "measured_from": newest[0].accepted_at.isoformat(),
            }
        )
    metrics["usual_duties"] = final.usual_duties
    _progress(model.pk, 95, _("Saving"))
    data = final.classifier.dumps()
    with transaction.atomic():
        model = RouterModel.objects.select_for_update().get(pk=model.pk)
        model.state = RouterModelState.READY
        model.progress, model.stage = 100, _("Ready")
        model.trained_at = timezone.now()
        model.window_start, model.window_end = rows[0].accepted_at, rows[-1].accepted_at
        model.samples, model.labels = len(rows), len({row.label for row in rows})
        model.model, model.metrics = data, metrics
        model.save()
        audit_record(
            actor=actor,
            action="grievances.router.trained",
            target=model,
            after={key: value for key, value in metrics.items() if key != "usual_duties"},
        )
        current = RouterModel.objects.select_for_update().filter(in_force=True).first()
        better, why = _better(model, current)
        if better:
            _put_in_force(model, current, actor=actor, reason=why)
        else:
            model.stage = why[:100]
            model.save(update_fields=["stage"])
        _prune()
    transaction.on_commit(routing.forget)
    return model


def _better(candidate: RouterModel, current: RouterModel | None) -> tuple[bool, str]:
    """Whether the new version should replace the one in force, and why, in words for the page."""
    top1 = candidate.metrics.get("top1")
    if top1 is None:
        return False, _("Not measured (too few recent grievances): an officer may put it in force.")
    if top1 <= candidate.metrics.get("list_top1", 0.0):
        return False, _("Not better than the list alone on the newest grievances.")
    if current is not None and top1 < (current.metrics.get("top1") or 0.0):
        return False, _("Not better than the version in force.")
    return True, _("Better on the newest grievances: put in force.")


def _put_in_force(model: RouterModel, current: RouterModel | None, *, actor: Any, reason: str) -> None:
    if current is not None:
        current.in_force = False
        current.save(update_fields=["in_force"])
    model.in_force, model.activated_at = True, timezone.now()
    model.save(update_fields=["in_force", "activated_at"])
    audit_record(
        actor=actor,
        action="grievances.router.activated",
        target=model,
        reason=reason,
        before={"in_force": current.pk if current else None},
        after={"in_force": model.pk},
    )


def _prune() -> None:
    stale = (
        RouterModel.objects.filter(in_force=False)
        .exclude(state__in=PENDING)
        .order_by("-created_at", "-id")
        .values_list("pk", flat=True)[KEEP_MODELS:]
    )
    RouterModel.objects.filter(pk__in=list(stale)).delete()


def router_model_activate(*, actor: Any, model: RouterModel, reason: str = "") -> RouterModel:
    """An officer puts a trained version in force (a newer one, or back to an older one)."""
    if not (getattr(actor, "is_superuser", False) or is_editorial_officer(actor)):
        raise PermissionRefused(_("Only the editorial office chooses the router version in force."))
    with transaction.atomic():
        model = RouterModel.objects.select_for_update().get(pk=model.pk)
        if model.in_force:
            return model
        if model.state != RouterModelState.READY:
            raise ApplicationError(
                _("Only a trained version can be put in force."), code="router_model_not_ready"
            )
        current = RouterModel.objects.select_for_update().filter(in_force=True).first()
        _put_in_force(model, current, actor=actor, reason=reason or _("Chosen by an officer."))
        transaction.on_commit(routing.forget)
    return model


def router_model_withdraw(*, actor: Any, model: RouterModel, reason: str = "") -> RouterModel:
    """An officer takes the version out of force: the list routes alone until another is put in force."""
    if not (getattr(actor, "is_superuser", False) or is_editorial_officer(actor)):
        raise PermissionRefused(_("Only the editorial office chooses the router version in force."))
    with transaction.atomic():
        model = RouterModel.objects.select_for_update().get(pk=model.pk)
        if not model.in_force:
            return model
        model.in_force = False
        model.save(update_fields=["in_force"])
        audit_record(actor=actor, action="grievances.router.withdrawn", target=model, reason=reason)
        transaction.on_commit(routing.forget)
    return model
