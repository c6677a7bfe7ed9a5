"""What arbitration's stored codes read as: audit action labels and the references it owns
("arbitration.ruling:<id>", "arbitration.dispute:<id>"). Discovered by core's ready (core.apps)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import actions, references
from core.references import Reference


def ruling_reference(ident: str, user: Any) -> Reference | None:
    """ "裁决 #2：<dispute title>", linked, for those who may read the ruling; the rest see only its kind and
    number (an internal ruling's title is not theirs to read)."""
    from arbitration.models import Ruling
    from arbitration.selectors import rulings_visible_to

    if not ident.isdigit():
        return None
    ruling = rulings_visible_to(user).filter(pk=int(ident)).select_related("dispute").first()
    if ruling is None:
        hidden = Ruling.objects.filter(pk=int(ident)).first()
        return Reference(f"{hidden.get_kind_display() if hidden else _('Ruling')} #{ident}")
    return Reference(
        f"{ruling.get_kind_display()} #{ruling.pk}：{ruling.dispute.title}",
        reverse("arbitration:ruling_detail", args=[ruling.pk]),
    )


def dispute_reference(ident: str, user: Any) -> Reference | None:
    from arbitration.selectors import disputes_visible_to

    if not ident.isdigit():
        return None
    dispute = disputes_visible_to(user).filter(pk=int(ident)).first()
    if dispute is None:
        return Reference(_("Dispute #%(number)s") % {"number": ident})
    return Reference(
        _("Dispute #%(number)s: %(title)s") % {"number": dispute.pk, "title": dispute.title},
        reverse("arbitration:dispute_detail", args=[dispute.pk]),
    )


def _dispute_event(action: str) -> Promise | None:
    from arbitration.views.detail import EVENT_LABELS

    return EVENT_LABELS.get(action)


def _ruling_issued(kind: str) -> Promise | str | None:
    from arbitration.models import RulingKind

    if kind not in RulingKind.values:
        return None
    return _("Issued: %(kind)s") % {"kind": RulingKind(kind).label}


references.register("arbitration.ruling:", ruling_reference)
references.register("arbitration.dispute:", dispute_reference)
actions.register(
    {
        "arbitration.ruling.corrected": gettext_lazy("Ruling corrected"),
        "arbitration.follow_up.closed": gettext_lazy("Follow-up closed"),
        "arbitration.follow_up.reported": gettext_lazy("Follow-up reported"),
        "arbitration.policy.updated": gettext_lazy("Arbitration deadlines changed"),
    }
)
actions.register_family("arbitration.dispute.", _dispute_event)
actions.register_family("arbitration.ruling.", _ruling_issued)
