"""The gap finder (issue 10, 主动找): clusters of recent grievances the duty list serves badly — matched no
duty, returned two or more times, or bounced between agencies — found before the agencies quarrel.

The grievances are described by the router's own features (``router_model.features``: character and jieba
word n-grams of the title and the details, TF-IDF) and clustered by agglomerative clustering (average
linkage) on cosine distance, cut at ``DISTANCE``: clusters of any number, and a grievance like no other
stays in a cluster of its own, which is not shown (fewer than ``MIN_CLUSTER``). Each cluster carries what
an officer needs to act: its size and weekly trend, sample messages, the agencies involved, why its
grievances are there, its most telling words, and the duties the router finds closest.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.db.models import Count, Q
from django.utils import timezone

from duty_lists.models import Agency
from grievances import routing
from grievances.models import Grievance, GrievanceState, OrderState, WorkOrder

DAYS = 90
MIN_CLUSTER = 3
# Mean cosine distance below which two groups merge. Short titles on one matter ("共享单车乱停放堵住人行道",
# "地铁站共享单车乱停放没人管") lie about 0.6 apart, different matters sharing a word or two about 0.85.
DISTANCE = 0.8
# The distance matrix is n² floats: 5,000 grievances are 100 MB.
MAX_GRIEVANCES = 5000
WEEKS = 8
SAMPLES = 5
Progress = Callable[[int, str], None]


def candidates(*, since: datetime) -> list[dict[str, Any]]:
    """Grievances since ``since`` that matched no duty, came back twice or more, or went to two or more
    agencies that returned them — with the agencies involved."""
    rows: list[dict[str, Any]] = [
        dict(row)
        for row in Grievance.objects.filter(received_at__gte=since)
        .exclude(state=GrievanceState.CANCELLED)
        .annotate(bounced=Count("orders__agency", filter=Q(orders__state=OrderState.RETURNED), distinct=True))
        .filter(Q(unlisted=True) | Q(return_count__gte=2) | Q(bounced__gte=2))
        .order_by("-received_at")
        .values(
            "id",
            "reference",
            "title",
            "details",
            "received_at",
            "unlisted",
            "return_count",
            "bounced",
            "handling_agency_id",
        )[:MAX_GRIEVANCES]
    ]
    agencies: dict[int, set[int]] = defaultdict(set)
    for grievance_id, agency_id in WorkOrder.objects.filter(
        grievance_id__in=[r["id"] for r in rows]
    ).values_list("grievance_id", "agency_id"):
        agencies[grievance_id].add(agency_id)
    for row in rows:
        row["agencies"] = agencies[row["id"]] | ({row["handling_agency_id"]} - {None})
    return rows


def find_gaps(*, days: int = DAYS, progress: Progress | None = None) -> dict[str, Any]:
    """The clusters of the last ``days`` (largest first) as plain JSON for a stored report."""
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.metrics.pairwise import cosine_distances

    from grievances.router_features import document, features

    report = progress or (lambda percent, stage: None)
    now = timezone.now()
    report(5, "candidates")
    rows = candidates(since=now - timedelta(days=days))
    result: dict[str, Any] = {"days": days, "grievances": len(rows), "clusters": []}
    if len(rows) < MIN_CLUSTER:
        report(100, "done")
        return result
    report(20, "features")
    docs = [document(f"{row['title']}\n{row['details'][:300]}", row["title"]) for row in rows]
    union = features()
    matrix = union.fit_transform(docs).tocsr()
    report(60, "clustering")
    distances = cosine_distances(matrix).astype(np.float32)
    labels = AgglomerativeClustering(
        n_clusters=None, metric="precomputed", linkage="average", distance_threshold=DISTANCE
    ).fit_predict(distances)
    names = dict(Agency.objects.values_list("id", "name"))
    vocabulary = _word_names(union)
    clusters = []
    members_of: dict[int, list[int]] = defaultdict(list)
    for position, label in enumerate(labels):
        members_of[int(label)].append(position)
    shown = [p for p in sorted(members_of.values(), key=len, reverse=True) if len(p) >= MIN_CLUSTER]
    overall = np.asarray(matrix.mean(axis=0)).ravel()
    for n, positions in enumerate(shown):
        report(70 + int(25 * n / max(len(shown), 1)), "describing")
        clusters.append(
            _describe([rows[p] for p in positions], matrix[positions], overall, vocabulary, names, now)
        )
    result["clusters"] = clusters
    report(100, "done")
    return result


def _word_names(union: Any) -> dict[int, str]:
    """Column → word (or word pair) of the union's word blocks: the words an officer can read."""
    offset, words = 0, {}
    for name, pipeline in union.transformer_list:
        grams = pipeline[-1].get_feature_names_out()
        if name.endswith("words"):
            words.update({offset + i: str(g).replace(" ", "") for i, g in enumerate(grams)})
        offset += len(grams)
    return words


def _describe(
    rows: list[dict[str, Any]],
    matrix: Any,
    overall: np.ndarray,
    vocabulary: dict[int, str],
    names: dict[int, str],
    now: datetime,
) -> dict[str, Any]:
    # The group's telling words are those it uses more than the other candidates do ("请相关部门处理" is in
    # every message and tells nothing).
    weights = np.asarray(matrix.mean(axis=0)).ravel() - overall
    words: list[str] = []
    for column in np.argsort(-weights):
        word = vocabulary.get(int(column))
        if weights[column] <= 0 or len(words) == 5:
            break
        if word and len(word) >= 2 and not any(word in w or w in word for w in words):
            words.append(word)
    weekly = [0] * WEEKS
    for row in rows:
        week = (now - row["received_at"]).days // 7
        if week < WEEKS:
            weekly[WEEKS - 1 - week] += 1
    agencies = Counter(a for row in rows for a in row["agencies"])
    closest = routing.route(" ".join(words) or rows[0]["title"], k=3)
    return {
        "size": len(rows),
        "words": words,
        "weekly": weekly,
        "rising": sum(weekly[WEEKS // 2 :]) > sum(weekly[: WEEKS // 2]),
        "why": {
            "unlisted": sum(bool(r["unlisted"]) for r in rows),
            "returned_twice": sum(r["return_count"] >= 2 for r in rows),
            "bounced": sum(r["bounced"] >= 2 for r in rows),
        },
        "agencies": [{"id": a, "name": names.get(a, ""), "count": c} for a, c in agencies.most_common(6)],
        "samples": [
            {"id": r["id"], "reference": r["reference"], "title": r["title"]} for r in rows[:SAMPLES]
        ],
        "grievance_ids": [r["id"] for r in rows],
        "closest_duties": [
            {
                "duty_id": s.duty_id,
                "list": s.duty_list,
                "code": s.duty_code,
                "title": s.duty_title,
                "agency": s.agency_name,
                "confidence": s.confidence,
            }
            for s in closest
        ],
    }
