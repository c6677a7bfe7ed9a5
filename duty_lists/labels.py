"""What the duty list's stored codes read as: audit action labels, the amendment reference
("duty_lists.amendment:<id>") and the agency a person speaks for. Discovered by core's ready (core.apps)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import actions, actors, references
from core.references import Reference

# The amendment timeline's words (templates/duty_lists/amendments/detail.html), for the audit log.
AMENDMENT_ACTIONS = {
    "create": gettext_lazy("Proposed the amendment"),
    "update": gettext_lazy("Revised the proposal"),
    "submit": gettext_lazy("Submitted for legal review"),
    "pass_legal_review": gettext_lazy("Passed legal review"),
    "concur": gettext_lazy("Concurred"),
    "object": gettext_lazy("Objected"),
    "approve": gettext_lazy("Approved"),
    "return": gettext_lazy("Returned to the proposer"),
    "withdraw": gettext_lazy("Withdrew the amendment"),
    "publish": gettext_lazy("Published"),
}


def amendment_reference(ident: str, user: Any) -> Reference | None:
    from duty_lists.selectors import amendments_visible_to

    if not ident.isdigit():
        return None
    amendment = amendments_visible_to(user).filter(pk=int(ident)).first() if user is not None else None
    if amendment is None:
        return Reference(_("Amendment #%(number)s") % {"number": ident})
    return Reference(
        _("Amendment #%(number)s") % {"number": amendment.pk},
        reverse("duty_lists:amendment_detail", args=[amendment.pk]),
    )


def agency_of(user: Any) -> str:
    """The short name of the agency the person works for; the first by code when several."""
    from duty_lists.selectors import memberships_of

    membership = memberships_of(user).first()
    if membership is None:
        return ""
    return membership.agency.short_name or membership.agency.name


# The demo loader's sources (duty_lists/demo_registry.py), named as a reader knows the data they came from.
DEMO_SOURCES = {
    "taxonomy_3level": gettext_lazy("Demo data: the three-level duty taxonomy of the shared data set"),
    "guangan-service-items": gettext_lazy("Demo data: Guang'an's public service items"),
}


def _demo_source(name: str) -> Any:
    def resolve(rest: str, user: Any) -> Reference:
        return Reference(str(DEMO_SOURCES[name]))

    return resolve


references.register("duty_lists.amendment:", amendment_reference)
for _source in DEMO_SOURCES:
    references.register(f"demo:{_source}", _demo_source(_source))
actors.register_affiliation(agency_of)
actions.register(
    {
        "duty_lists.agency.created": gettext_lazy("Agency created"),
        "duty_lists.agency.updated": gettext_lazy("Agency changed"),
        "duty_lists.duty_list.created": gettext_lazy("Duty list created"),
        "duty_lists.duty_list.imported": gettext_lazy("Duty list imported"),
        "duty_lists.edition.published": gettext_lazy("Edition published"),
        "duty_lists.membership.granted": gettext_lazy("Role granted"),
        "duty_lists.membership.revoked": gettext_lazy("Role revoked"),
        "duty_lists.search_synonym.created": gettext_lazy("Search synonym added"),
        "duty_lists.search_synonym.deleted": gettext_lazy("Search synonym removed"),
    }
)
actions.register_family("duty_lists.amendment.", AMENDMENT_ACTIONS.get)
