"""The registry's search vocabulary, stored once per state of the registry (issue 11). Imported by
``duty_lists.models``, so this is the duty_lists app's model.

jieba must know the registry's own words (``区综合执法局``, ``占道经营``) to segment queries and texts as the
index does. Reading them from every duty in force and working out each word's frequency took a fresh
process 2–3 s at 100,000 duties, on the first search it answered; stored here, a process reads one row. The
frequencies are worked out once, in a fresh tokenizer and in a fixed order, so every process segments with
the very same dictionary (before, a process that reloaded after an edition could differ from a new one)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SearchVocabulary(models.Model):
    # What the words were read from: the newest edition and the agencies' count and last change
    # (duty_lists.search._vocabulary_stamp); a new edition or a renamed agency makes a new row.
    stamp = models.CharField(max_length=200, unique=True)
    # word → the frequency jieba is given for it.
    frequencies = models.JSONField(default=dict)
    computed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-computed_at", "-id"]
        verbose_name = _("search vocabulary")
        verbose_name_plural = _("search vocabularies")

    def __str__(self) -> str:
        return f"{self.stamp} ({len(self.frequencies)} words)"
