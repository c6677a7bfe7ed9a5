"""A searchable picker for one value out of thousands (a duty among 1,653), rendered without its options.

Without JavaScript it is a plain text box that takes the id, and the form validates it against its choices as
before; static/js/picker.js turns it into a search box over a REST endpoint (``source``) that sets the same
value. The page never lists every choice, so it stays small however long the list grows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _


class SearchPicker(forms.Widget):
    def __init__(self, *, source: Any, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.source = source  # a URL, lazily reversed
        self.choices: Iterable[Any] = []  # set by the ChoiceField; read only for the chosen value's label

    def label_for(self, value: Any) -> str:
        if value in (None, ""):
            return ""
        wanted = str(value)
        for key, label in self.choices:
            if isinstance(label, (list, tuple)):  # an optgroup
                for inner_key, inner_label in label:
                    if str(inner_key) == wanted:
                        return str(inner_label)
            elif str(key) == wanted:
                return str(label)
        return ""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        final = self.build_attrs(self.attrs, attrs)
        final.update({"type": "text", "name": name, "value": "" if value is None else str(value)})
        final.setdefault("inputmode", "numeric")
        return format_html(
            '<span class="picker" data-picker="search" data-picker-source="{}" data-picker-placeholder="{}"'
            ' data-picker-empty="{}" data-picker-clear="{}"><input{} data-picker-value>'
            ' <span class="picker__current" data-picker-current>{}</span></span>',
            str(self.source),
            _("Type to search, e.g. 噪音"),
            _("Nothing found."),
            _("Clear"),
            flatatt(final),
            self.label_for(value),
        )
