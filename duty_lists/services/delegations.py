"""The list of powers delegated to streets (赋权清单), kept from published amendments.

A delegation amendment (kind ``delegate``) carries, next to the duty as it should read, a ``delegation``
block: ``{"streets": [codes], "decision": "区政府令〔2026〕3号", "granted_on": "2026-03-01",
"legal_basis": ""}`` (all optional but one street, which may also come from the duty's street-level
participants). The register changes only when an edition publishes the amendment — ``edition_publish``
calls ``delegations_apply`` in its transaction — so the register and the published list never disagree:

- a published ``delegate`` amendment grants a power (``delegated_power_grant``);
- a published ``withdraw_delegation`` amendment ends it (``delegated_power_withdraw``), and so does any other
  published amendment that removes the duty or brings it back to the district.
Both are safe to call twice: the second call finds the row the first wrote and returns it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.db import transaction
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import ApplicationError, Conflict, PermissionRefused
from duty_lists import permissions
from duty_lists.models import (
    Agency,
    AgencyLevel,
    Amendment,
    AmendmentKind,
    AmendmentState,
    DelegatedPower,
    Duty,
    DutyRevision,
    Layer,
    ParticipationRole,
)
from duty_lists.proposals import DutyContent

STREET_LEVELS = {AgencyLevel.STREET, AgencyLevel.COMMUNITY}
DISTRICT_LEVELS = {AgencyLevel.CITY, AgencyLevel.DISTRICT}


# --- At the door: what a delegation or withdrawal amendment must say --------------------------------------


def delegation_check(
    *, kind: str, duty: Duty | None, content: DutyContent | None, block: Any
) -> dict[str, Any] | None:
    """Validate the ``delegation`` block of a delegation amendment (returned normalised, to be stored in
    its proposal), and that a withdrawal names a delegated duty and gives it back to the district."""
    if kind == AmendmentKind.WITHDRAW_DELEGATION:
        _check_withdrawal(duty, content)
        return None
    if kind != AmendmentKind.DELEGATE:
        return None
    if block is None:
        block = {}
    if not isinstance(block, dict):
        raise ApplicationError(
            _("The delegation is not valid."),
            code="invalid_delegation",
            extra={"delegation": [_("An object.")]},
        )
    errors: dict[str, list[str]] = {}
    streets = block.get("streets")
    if streets is None and content is not None:
        codes = [p.agency for p in content.participants]
        streets = list(
            Agency.objects.filter(code__in=codes, level=AgencyLevel.STREET).values_list("code", flat=True)
        )
    if not isinstance(streets, list) or not all(isinstance(s, str) for s in streets):
        errors["streets"] = [_("A list of street codes is expected.")]
    elif not streets:
        errors["streets"] = [_("Name the streets the duty is delegated to.")]
    else:
        known = set(
            Agency.objects.filter(code__in=streets, level=AgencyLevel.STREET, is_active=True).values_list(
                "code", flat=True
            )
        )
        if unknown := [s for s in streets if s not in known]:
            errors["streets"] = [_("No active street with code %(code)s.") % {"code": s} for s in unknown]
    decision = block.get("decision", "")
    if not isinstance(decision, str) or len(decision) > 200:
        errors["decision"] = [_("The decision is a text of at most 200 characters.")]
    legal_basis = block.get("legal_basis", "")
    if not isinstance(legal_basis, str):
        errors["legal_basis"] = [_("A text is expected.")]
    granted_on = block.get("granted_on") or ""
    if granted_on and (not isinstance(granted_on, str) or _date(granted_on) is None):
        errors["granted_on"] = [_("Use an ISO 8601 date, e.g. 2026-03-01.")]
    if errors:
        raise ApplicationError(_("The delegation is not valid."), code="invalid_delegation", extra=errors)
    if duty is not None and DelegatedPower.objects.filter(duty=duty, withdrawn_on__isnull=True).exists():
        raise Conflict(
            _("This duty is already delegated: withdraw that delegation first."), code="already_delegated"
        )
    return {
        "streets": list(dict.fromkeys(streets or [])),
        "decision": decision.strip(),
        "granted_on": granted_on,
        "legal_basis": legal_basis.strip(),
    }


def _date(value: str) -> date | None:
    try:
        return parse_date(value)
    except ValueError:
        return None


def _check_withdrawal(duty: Duty | None, content: DutyContent | None) -> None:
    if duty is None or not DelegatedPower.objects.filter(duty=duty, withdrawn_on__isnull=True).exists():
        raise Conflict(_("This duty is not delegated to any street."), code="not_delegated")
    lead = Agency.objects.filter(code=content.lead_code or "").first() if content is not None else None
    if (
        content is None
        or content.layer != Layer.DISTRICT
        or lead is None
        or lead.level not in DISTRICT_LEVELS
    ):
        raise ApplicationError(
            _("Withdrawing a delegation gives the duty back to a district agency, on the district layer."),
            code="not_a_withdrawal",
        )


# --- On publication -------------------------------------------------------------------------------------


def _require_keeper(actor: Any) -> None:
    if not (actor.is_superuser or permissions.is_editorial_officer(actor)):
        raise PermissionRefused(_("Only an editorial-office officer may do this."))


def _locked_published(amendment: Amendment) -> Amendment:
    amendment = (
        Amendment.objects.select_for_update(of=("self",))
        .select_related("published_in", "pending_revision", "proposing_agency")
        .get(pk=amendment.pk)
    )
    if amendment.state != AmendmentState.PUBLISHED or amendment.published_in is None:
        raise Conflict(_("Only a published amendment changes the delegations."), code="not_published")
    return amendment


def _still_delegated(revision: DutyRevision | None) -> bool:
    if revision is None or revision.is_removed:
        return False
    lead = next((p for p in revision.participations.all() if p.role == ParticipationRole.LEAD), None)
    return revision.layer == Layer.STREET or (lead is not None and lead.agency.level in STREET_LEVELS)


def _end(power: DelegatedPower, amendment: Amendment, actor: Any, on: date) -> None:
    power.withdrawn_on = max(on, power.granted_on)
    power.withdrawing_amendment = amendment
    power.save(update_fields=["withdrawn_on", "withdrawing_amendment"])
    audit_record(
        actor=actor,
        action="duty_lists.delegated_power.withdrawn",
        target=power,
        reason=amendment.justification,
        before={"withdrawn_on": None},
        after={"withdrawn_on": power.withdrawn_on.isoformat(), "amendment": amendment.pk},
    )


def _delegating_agency(amendment: Amendment, revision: DutyRevision | None) -> Agency | None:
    """The district department that held the duty: the lead of the revision the delegation superseded."""
    if revision is not None and revision.valid_from is not None:
        previous = (
            DutyRevision.objects.filter(duty=revision.duty_id, valid_from__lt=revision.valid_from)
            .exclude(pk=revision.pk)
            .order_by("-valid_from")
            .prefetch_related("participations__agency")
            .first()
        )
        lead = previous.lead if previous is not None else None
        if lead is not None and lead.agency.level in DISTRICT_LEVELS:
            return lead.agency
    if amendment.proposing_agency.level in DISTRICT_LEVELS:
        return amendment.proposing_agency
    return None


def delegated_power_grant(*, actor: Any, amendment: Amendment) -> DelegatedPower:
    """Add the power a published delegation amendment grants.

    1. Lock the amendment; it must be a published delegation.
    2. Already granted (a repeated call)? Return that row.
    3. A delegation of the same duty still active (two delegations approved side by side) ends here: the
       later publication supersedes it, so one delegation per duty stays active.
    4. Write the row with its streets; audit.
    """
    _require_keeper(actor)
    with transaction.atomic():
        amendment = _locked_published(amendment)
        if amendment.kind != AmendmentKind.DELEGATE:
            raise ApplicationError(_("This amendment is not a delegation."), code="not_a_delegation")
        existing = DelegatedPower.objects.filter(granting_amendment=amendment).first()
        if existing is not None:
            return existing
        assert amendment.published_in is not None and amendment.duty_id is not None
        spec = amendment.proposal.get("delegation") or {}
        revision = (
            DutyRevision.objects.filter(pending_for=amendment)
            .prefetch_related("participations__agency", "legal_bases")
            .first()
        )
        codes = spec.get("streets")
        if codes is None and revision is not None:
            codes = [p.agency.code for p in revision.participations.all()]
        streets = list(Agency.objects.filter(code__in=codes or [], level=AgencyLevel.STREET))
        granted_on = _date(spec.get("granted_on") or "") or amendment.published_in.effective_date
        legal_basis = spec.get("legal_basis") or (
            "；".join(str(b) for b in revision.legal_bases.all()) if revision is not None else ""
        )
        for active in DelegatedPower.objects.select_for_update().filter(
            duty_id=amendment.duty_id, withdrawn_on__isnull=True
        ):
            _end(active, amendment, actor, granted_on)
        power = DelegatedPower.objects.create(
            duty_id=amendment.duty_id,
            delegating_agency=_delegating_agency(amendment, revision),
            legal_basis=legal_basis,
            decision=spec.get("decision", ""),
            granted_on=granted_on,
            granting_amendment=amendment,
        )
        power.streets.set(streets)
        audit_record(
            actor=actor,
            action="duty_lists.delegated_power.granted",
            target=power,
            reason=amendment.justification,
            after={
                "duty": amendment.duty_id,
                "streets": [s.code for s in streets],
                "decision": power.decision,
                "granted_on": granted_on.isoformat(),
                "amendment": amendment.pk,
            },
        )
    return power


def delegated_power_withdraw(*, actor: Any, amendment: Amendment) -> DelegatedPower | None:
    """End the active delegation of the amendment's duty (收回赋权), as of its edition's effective date.
    Returns the ended row, or None when the duty has no delegation (nothing to do)."""
    _require_keeper(actor)
    with transaction.atomic():
        amendment = _locked_published(amendment)
        if (existing := DelegatedPower.objects.filter(withdrawing_amendment=amendment).first()) is not None:
            return existing  # a repeated call
        assert amendment.published_in is not None and amendment.duty_id is not None
        power = (
            DelegatedPower.objects.select_for_update()
            .filter(duty_id=amendment.duty_id, withdrawn_on__isnull=True)
            .first()
        )
        if power is not None:
            _end(power, amendment, actor, amendment.published_in.effective_date)
    return power


def delegations_apply(*, actor: Any, amendments: Iterable[Amendment]) -> None:
    """What an edition's published amendments do to the register (inside ``edition_publish``'s
    transaction). Amendments of other kinds cost one query, and change something only for a delegated
    duty they remove or bring back to the district."""
    others: list[Amendment] = []
    for amendment in amendments:
        if amendment.kind == AmendmentKind.DELEGATE:
            delegated_power_grant(actor=actor, amendment=amendment)
        elif amendment.kind == AmendmentKind.WITHDRAW_DELEGATION:
            delegated_power_withdraw(actor=actor, amendment=amendment)
        elif amendment.duty_id is not None:
            others.append(amendment)
    if not others:
        return
    delegated = set(
        DelegatedPower.objects.filter(
            duty_id__in=[a.duty_id for a in others], withdrawn_on__isnull=True
        ).values_list("duty_id", flat=True)
    )
    for amendment in others:
        if amendment.duty_id not in delegated:
            continue
        revision = (
            DutyRevision.objects.filter(pending_for=amendment)
            .prefetch_related("participations__agency")
            .first()
        )
        if not _still_delegated(revision):
            delegated_power_withdraw(actor=actor, amendment=amendment)
