"""双向考评's forms: a rating (one 0–100 score per criterion in use and a comment), an appeal, and the
office's decision. They check the shape of what was typed; the services check everything else."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from grievances.ratings.models import RatingCriterion
from grievances.services.ratings import criterion_field


class RatingForm(forms.Form):
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("What went well and what should improve; the rated agency reads it."),
    )

    def __init__(self, *args: Any, criteria: list[RatingCriterion], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.criteria = criteria
        fields: dict[str, forms.Field] = {}
        for criterion in criteria:
            fields[criterion_field(criterion.pk)] = forms.IntegerField(
                label=criterion.name,
                min_value=0,
                max_value=100,
                help_text=criterion.description,
                widget=forms.NumberInput(attrs={"min": 0, "max": 100, "step": 1, "inputmode": "numeric"}),
            )
        # The criteria first, in the office's order, then the comment.
        fields["comment"] = self.fields.pop("comment")
        self.fields = fields

    def criterion_fields(self) -> list[tuple[RatingCriterion, forms.BoundField]]:
        return [(c, self[criterion_field(c.pk)]) for c in self.criteria]

    def scores(self) -> dict[int, int]:
        return {c.pk: self.cleaned_data[criterion_field(c.pk)] for c in self.criteria}


class AppealForm(forms.Form):
    reason = forms.CharField(
        label=_("Why the rating is wrong"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class AppealDecisionForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Decision"),
        choices=[("upheld", _("Uphold: the rating no longer counts")), ("rejected", _("Reject: it stands"))],
        widget=forms.RadioSelect,
    )
    decision = forms.CharField(
        label=_("The office's reasons"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
