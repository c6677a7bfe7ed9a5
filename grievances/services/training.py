"""Retraining the router's learned half from what agencies accepted."""

from __future__ import annotations

from django.utils import timezone

from grievances import routing
from grievances.models import Grievance, GrievanceState, RouterModel

# The newest accepted grievances teach the router; older ones describe a list that may have changed.
MAX_SAMPLES = 20_000
KEEP_MODELS = 3
TAUGHT_STATES = (
    GrievanceState.ACCEPTED,
    GrievanceState.IN_PROGRESS,
    GrievanceState.RESOLVED,
    GrievanceState.CLOSED,
)


def router_train(*, min_samples: int = 20) -> RouterModel | None:
    """Train on accepted grievances (text → the duty they were accepted under). Too few: keep the list
    alone. Keeps the last few models so a bad one can be rolled back by deleting the newest row."""
    from grievances.learning import TextClassifier

    rows = list(
        Grievance.objects.filter(state__in=TAUGHT_STATES, duty__isnull=False)
        .order_by("-accepted_at")
        .values_list("title", "details", "duty_id")[:MAX_SAMPLES]
    )
    if len(rows) < min_samples:
        return None
    texts = [f"{title}\n{details}" for title, details, _ in rows]
    labels = [str(duty_id) for _, _, duty_id in rows]
    classifier = TextClassifier.train(texts, labels, prior_documents=_duty_descriptions(set(labels)))
    model = RouterModel.objects.create(
        trained_at=timezone.now(), samples=len(rows), labels=len(set(labels)), payload=classifier.to_dict()
    )
    stale = RouterModel.objects.order_by("-trained_at", "-id").values_list("pk", flat=True)[KEEP_MODELS:]
    RouterModel.objects.filter(pk__in=list(stale)).delete()
    routing.forget()
    return model


def _duty_descriptions(labels: set[str]) -> dict[str, list[str]]:
    """Each taught duty's own words (title, keywords, synonyms, classification) as short extra examples:
    on the labelled messages the list's names were worth about six points of top-1 (docs/benchmarks.md)."""
    from duty_lists.selectors import revisions_in_force

    descriptions: dict[str, list[str]] = {}
    revisions = revisions_in_force(with_content=False).filter(duty_id__in=[int(label) for label in labels])
    for duty_id, title, keywords, synonyms, classification in revisions.values_list(
        "duty_id", "title", "keywords", "synonyms", "classification__name"
    ):
        words = [title, *map(str, keywords or []), *map(str, synonyms or []), classification or ""]
        descriptions.setdefault(str(duty_id), []).extend(w for w in words if w)
    return descriptions
