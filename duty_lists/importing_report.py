"""What an import found and did, row by row (duty_lists.importing)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from django.utils.translation import gettext_lazy

from duty_lists.diff import FIELD_LABELS

# --- The report ---------------------------------------------------------------------------------------------


@dataclass
class RowError:
    row: int  # as Excel numbers it
    column: str  # the header as the file spells it; "" for the whole row
    message: str


STRUCTURE_NAME_LABEL = gettext_lazy("Name")
KIND_LABELS = {
    "category": gettext_lazy("Category"),
    "classification": gettext_lazy("Classification"),
    "duty": gettext_lazy("Duty"),
}


@dataclass
class FieldChange:
    field: str  # a name of diff.COMPARED_FIELDS, or "name" for a category or classification
    column: str  # the header(s) as the file spells them; "" where the file has no such column
    old: str  # as the export would write it
    new: str

    @property
    def label(self) -> Any:
        """The field as a person calls it, in the language of whoever reads the report."""
        return FIELD_LABELS.get(self.field, STRUCTURE_NAME_LABEL)


@dataclass
class RowChange:
    """One thing the import adds or changes: a duty, or a category or classification it renames."""

    row: int  # as Excel numbers it: the duty's row, or the first row naming the category or classification
    kind: str  # "duty", "category" or "classification"
    status: str  # "new" or "changed"
    code: str
    title: str  # the duty's title or the structure's name, as the file has it
    fields: list[FieldChange] = field(default_factory=list)  # what changes; empty for a new duty

    @property
    def kind_label(self) -> Any:
        return KIND_LABELS[self.kind]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RowChange:
        fields = [FieldChange(**f) for f in data.get("fields", [])]
        return cls(**{k: v for k, v in data.items() if k != "fields"}, fields=fields)

    def to_json(self) -> dict[str, Any]:
        """For the job's status API: the labels as text."""
        return {
            **{k: v for k, v in asdict(self).items() if k != "fields"},
            "kind_label": str(self.kind_label),
            "fields": [{**asdict(f), "label": str(f.label)} for f in self.fields],
        }


@dataclass
class Tally:
    new: int = 0
    changed: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.new + self.changed + self.unchanged


@dataclass
class ImportReport:
    file_name: str
    file_format: str = ""
    rows: int = 0
    categories: Tally = field(default_factory=Tally)
    classifications: Tally = field(default_factory=Tally)
    duties: Tally = field(default_factory=Tally)
    errors: list[RowError] = field(default_factory=list)
    changes: list[RowChange] = field(default_factory=list)  # in row order; one per new or changed item
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def has_changes(self) -> bool:
        return any(t.new or t.changed for t in (self.categories, self.classifications, self.duties))

    @property
    def changed(self) -> list[RowChange]:
        """What changes in what the list already has: renamed structure and changed duties."""
        return [c for c in self.changes if c.status == "changed"]

    @property
    def added(self) -> list[RowChange]:
        return [c for c in self.changes if c.status == "new"]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportReport:
        return cls(
            file_name=data["file_name"],
            file_format=data.get("file_format", ""),
            rows=data.get("rows", 0),
            categories=Tally(**data.get("categories", {})),
            classifications=Tally(**data.get("classifications", {})),
            duties=Tally(**data.get("duties", {})),
            errors=[RowError(**e) for e in data.get("errors", [])],
            changes=[RowChange.from_dict(c) for c in data.get("changes", [])],
            written=data.get("written", False),
        )


Progress = Callable[[str, int, int], None]  # (phase, done, total)
