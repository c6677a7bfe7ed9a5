"""The office's synonym table for search. Imported by ``duty_lists.models``, so this is the duty_lists app's
model."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SearchSynonym(models.Model):
    """A word citizens use and the words the lists use for the same thing (噪声 = 噪音, 违建 = 违章建筑): a
    query holding the term is searched with its synonyms too (one way: duty_lists/synonyms.py; kept
    through ``duty_lists.services.search_synonym_save``)."""

    term = models.CharField(_("term"), max_length=50)
    aliases = models.JSONField(_("synonyms"), default=list)
    note = models.CharField(_("note"), max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["term"]
        verbose_name = _("search synonym")
        verbose_name_plural = _("search synonyms")
        constraints = [models.UniqueConstraint(fields=["term"], name="search_synonym_term_unique")]

    def __str__(self) -> str:
        return f"{self.term} = {' / '.join(self.aliases)}"
