"""A synthetic history of accepted grievances at the product's scale, for bench/routing.py: real TipDM
words rearranged among the taxonomy's agencies."""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass
from pathlib import Path

from bench.router_model import MESSAGES
from grievances import router_features
from grievances.management.commands.evaluate_router import read_table

ROOT = Path(__file__).resolve().parent.parent

UNLABELLED = MESSAGES.parent / "messages_unlabelled.csv"
TAXONOMY = ROOT / "duty_lists" / "demo_data" / "taxonomy_3level.csv"
AGENCIES = 40
STREET_SHARE = 0.15  # of the grievances, handled by the street office itself
LABEL_NOISE = 0.05  # accepted by an agency other than the one its words point to
CLAUSE_RE = re.compile(r"[^。！？；!?;]+[。！？；!?;]?")
HELD_OUT = 1000


@dataclass
class History:
    texts: list[str]
    titles: list[str]
    labels: list[str]
    priors: dict[str, list[str]]
    held_out: list[tuple[str, str, str]]  # text, title, label
    seconds: float = 0.0


def synthetic_history(n: int, seed: int) -> History:
    """``n`` grievances oldest first, and HELD_OUT more to route. A title (~15 characters) is the start of a
    real TipDM title, one of its agency's duty names and the end of another real title; the details (150–300
    characters) are real TipDM clauses drawn at random, a third of them with one of the agency's duty names
    put in, a tenth with a neighbouring agency's (agencies of one topic are confusable), some with a word
    from jieba's dictionary (more distinct n-grams than 4,821 messages hold). The 118 second-level classes
    of the taxonomy are shared among 40 agencies and the street office; each label's class names and
    third-level names are its duty titles (prior documents). Agencies' shares fall off Zipf-like; the
    street office takes STREET_SHARE; LABEL_NOISE of the labels are another agency's."""
    rng = random.Random(seed)
    rows = read_table(MESSAGES) + (read_table(UNLABELLED) if UNLABELLED.is_file() else [])
    clauses = [c for row in rows for c in CLAUSE_RE.findall(row["留言详情"].strip()) if len(c) >= 4]
    real_titles = [row["留言主题"].strip() for row in rows if len(row["留言主题"].strip()) >= 8]
    frequencies = router_features._jieba().dt.FREQ
    dictionary = sorted(w for w, f in frequencies.items() if f >= 50 and 2 <= len(w) <= 4)
    fillers = rng.sample(dictionary, 20_000)
    classes: dict[tuple[str, str], list[str]] = {}
    for row in read_table(TAXONOMY):
        classes.setdefault((row["一级分类"], row["二级分类"]), []).append(row["三级分类"])
    ordered = sorted(classes)
    names = [str(101 + i) for i in range(AGENCIES)] + ["street"]
    duties: list[list[str]] = [[] for _ in names]
    for i, key in enumerate(ordered):  # contiguous: an agency's classes are mostly of one topic
        terms = duties[i * len(names) // len(ordered)]
        terms += [t for t in (key[1], *classes[key]) if t != "其他" and t not in terms]
    weights = [(1 - STREET_SHARE) * (1 / (r + 1) ** 0.7) for r in range(AGENCIES)]
    weights = [w / sum(weights) * (1 - STREET_SHARE) for w in weights] + [STREET_SHARE]

    def grievance(label: int) -> tuple[str, str]:
        own = duties[label]
        near = duties[(label + rng.choice((-1, 1))) % len(names)]
        start, end = rng.choice(real_titles), rng.choice(real_titles)
        title = start[: rng.randint(3, 8)] + rng.choice(own) + end[-rng.randint(2, 6) :]
        length, pieces, size = rng.randint(150, 300), [], 0
        while size < length:
            clause = rng.choice(clauses)
            r = rng.random()
            if r < 0.45:
                word = rng.choice(own if r < 0.35 else near)
                at = rng.randrange(len(clause))
                clause = clause[:at] + word + clause[at:]
            if rng.random() < 0.3:
                clause = rng.choice(fillers) + clause
            pieces.append(clause)
            size += len(clause)
        return f"{title}\n{''.join(pieces)[:length]}", title

    started = time.perf_counter()
    picks = rng.choices(range(len(names)), weights=weights, k=n + HELD_OUT)
    history = History([], [], [], {names[i]: duties[i] for i in range(len(names))}, [])
    for j, label in enumerate(picks):
        text, title = grievance(label)
        if j >= n:
            history.held_out.append((text, title, names[label]))
            continue
        noisy = rng.randrange(len(names)) if rng.random() < LABEL_NOISE else label
        history.texts.append(text)
        history.titles.append(title)
        history.labels.append(names[noisy])
    history.seconds = time.perf_counter() - started
    return history
