"""What every form of the product shares."""

from __future__ import annotations

from typing import Any

from django import forms


class StyledForm(forms.Form):
    """Text inputs and selects get the house ``input`` class; radios, checkboxes and hidden fields keep
    their own look (``templates/includes/field.html`` lays each kind out)."""

    PLAIN = (forms.RadioSelect, forms.CheckboxSelectMultiple, forms.CheckboxInput, forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if not isinstance(field.widget, self.PLAIN):
                field.widget.attrs.setdefault("class", "input")
