"""Two-way dispatch (双向派单) between streets and district agencies, and whistles (吹哨报到).

- A street that finds a matter in a district agency's remit reports it up the same day; the agency
  completes the handover within 3 working days. A district agency passes a territorial matter down to the
  street, which reports back when done; a matter too complex for the street goes back up.
- A street blows the whistle on a matter, summoning named departments; each must report within 30
  minutes. The minute sweep flags those that have not, once each.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from arbitration.services.notifications import notify, people_of
from core.audit import audit_record
from core.errors import ApplicationError, Conflict, PermissionRefused
from duty_lists.models import Agency, AgencyLevel, Duty, Role
from grievances.deadlines import handover_deadlines, summons_deadline
from grievances.models import Grievance, Handover, HandoverDirection, HandoverState, Summons, Whistle
from grievances.services.common import is_staff_of

D = HandoverDirection


def _is_street(agency: Agency) -> bool:
    return agency.level in (AgencyLevel.STREET, AgencyLevel.COMMUNITY)


def _after_commit_notify(
    *, agencies: Iterable[int], roles: Iterable[str] = (), key: str, title: str, url: str
) -> None:
    agency_ids, role_list = list(agencies), list(roles)
    transaction.on_commit(
        lambda: notify(
            recipients=people_of(agencies=agency_ids, roles=role_list), key=key, title=title, url=url
        )
    )


def handover_report(
    *,
    actor: Any,
    direction: str,
    from_agency: Agency,
    to_agency: Agency,
    matter: str,
    found_at: datetime | None = None,
    grievance: Grievance | None = None,
    duty: Duty | None = None,
    parent: Handover | None = None,
) -> Handover:
    """Report a matter to the agency whose remit it is. Up: a street to a district agency, the same day
    it was found; down: a district agency to a street; back up: a street returns a complex matter that
    came down."""
    if not is_staff_of(actor, from_agency):
        raise PermissionRefused(_("You may hand over matters only for your own agency."))
    errors: dict[str, list[str]] = {}
    if not matter.strip():
        errors["matter"] = [_("Required.")]
    if direction not in D.values:
        errors["direction"] = [_("Unknown direction.")]
    elif direction in (D.UP, D.BACK_UP) and not (_is_street(from_agency) and not _is_street(to_agency)):
        errors["to_agency"] = [_("A street hands up to a district agency.")]
    elif direction == D.DOWN and not (not _is_street(from_agency) and _is_street(to_agency)):
        errors["to_agency"] = [_("A district agency hands down to a street.")]
    if to_agency.pk == from_agency.pk:
        errors["to_agency"] = [_("Choose another agency.")]
    if direction == D.BACK_UP and (
        parent is None or parent.direction != D.DOWN or parent.to_agency_id != from_agency.pk
    ):
        errors["parent"] = [_("Name the matter that came down to your street.")]
    if errors:
        raise ApplicationError(
            _("The handover cannot be reported as it is."), code="invalid_handover", extra=errors
        )
    now = timezone.now()
    found = found_at or now
    if found > now:
        raise ApplicationError(
            _("A matter cannot be found in the future."),
            code="invalid_handover",
            extra={"found_at": [_("In the future.")]},
        )
    report_due, handover_due = handover_deadlines(found, now)
    with transaction.atomic():
        if parent is not None:
            # Under the lock, so two people sending the same matter back up cannot both succeed.
            parent = Handover.objects.select_for_update().get(pk=parent.pk)
            if parent.state not in (HandoverState.REPORTED, HandoverState.COMPLETED):
                raise Conflict(
                    _("That matter is settled already: it was done or handed back up."),
                    code="handover_settled",
                )
        handover = Handover.objects.create(
            parent=parent,
            direction=direction,
            from_agency=from_agency,
            to_agency=to_agency,
            grievance=grievance,
            duty=duty,
            matter=matter.strip(),
            found_at=found,
            reported_at=now,
            report_due=report_due,
            handover_due=handover_due,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        if parent is not None:
            parent.state = HandoverState.REFUSED
            parent.report_back = _("Too complex for the street: handed back up.")
            parent.save(update_fields=["state", "report_back"])
            audit_record(
                actor=actor,
                action="grievances.handover.refused",
                target=parent,
                before={"state": HandoverState.COMPLETED},
                after={"state": HandoverState.REFUSED, "back_up": handover.pk},
            )
        audit_record(
            actor=actor,
            action=f"grievances.handover.{direction}",
            target=handover,
            after={"to": to_agency.pk},
        )
        _after_commit_notify(
            agencies=[to_agency.pk],
            key=f"handover:{handover.pk}",
            title=_("Matter handed over by %(agency)s") % {"agency": from_agency.name},
            url=f"/grievances/handovers/{handover.pk}/",
        )
    return handover


def handover_complete(*, actor: Any, handover: Handover, note: str = "") -> Handover:
    """The receiving agency takes the matter over (within 3 working days of the report)."""
    if not is_staff_of(actor, handover.to_agency_id):
        raise PermissionRefused(_("Only the receiving agency completes the handover."))
    with transaction.atomic():
        handover = Handover.objects.select_for_update().get(pk=handover.pk)
        if handover.state != HandoverState.REPORTED:
            if handover.completed_at is not None:
                return handover
            raise Conflict(_("This handover is no longer open."), code="invalid_state")
        handover.state = HandoverState.COMPLETED
        handover.completed_at = timezone.now()
        if note:
            handover.report_back = note
        handover.save()
        audit_record(actor=actor, action="grievances.handover.complete", target=handover, reason=note)
    return handover


def handover_report_back(*, actor: Any, handover: Handover, report: str) -> Handover:
    """The receiving agency reports the matter done to the one that handed it over: a street on a matter
    that came down, a district agency on one a street reported up (the street answers to the citizen)."""
    if not is_staff_of(actor, handover.to_agency_id):
        raise PermissionRefused(_("Only the receiving agency reports back."))
    if not report.strip():
        raise ApplicationError(
            _("Say what was done."), code="invalid_handover", extra={"report": [_("Required.")]}
        )
    with transaction.atomic():
        handover = Handover.objects.select_for_update().get(pk=handover.pk)
        if handover.state == HandoverState.DONE:
            return handover
        if handover.state not in (HandoverState.REPORTED, HandoverState.COMPLETED):
            raise Conflict(_("This handover is no longer open."), code="invalid_state")
        now = timezone.now()
        handover.completed_at = handover.completed_at or now
        handover.done_at = now
        handover.report_back = report.strip()
        handover.state = HandoverState.DONE
        handover.save()
        audit_record(actor=actor, action="grievances.handover.done", target=handover, reason=report.strip())
        _after_commit_notify(
            agencies=[handover.from_agency_id],
            key=f"handover:{handover.pk}:done",
            title=_("%(agency)s reports the matter done") % {"agency": handover.to_agency.name},
            url=f"/grievances/handovers/{handover.pk}/",
        )
    return handover


def whistle_blow(
    *,
    actor: Any,
    street: Agency,
    title: str,
    agencies: Iterable[Agency],
    description: str = "",
    address: str = "",
    grievance: Grievance | None = None,
) -> Whistle:
    """街道吹哨、部门报到: summon the named departments; each must report within 30 minutes."""
    if not is_staff_of(actor, street):
        raise PermissionRefused(_("Only the street's own staff blow its whistle."))
    summoned = [a for a in {a.pk: a for a in agencies}.values() if a.pk != street.pk]
    errors: dict[str, list[str]] = {}
    if not _is_street(street):
        errors["street"] = [_("Only a street blows the whistle.")]
    if not title.strip():
        errors["title"] = [_("Required.")]
    if not summoned:
        errors["agencies"] = [_("Summon at least one department.")]
    if errors:
        raise ApplicationError(
            _("The whistle cannot be blown as it is."), code="invalid_whistle", extra=errors
        )
    now = timezone.now()
    due = summons_deadline(now)
    with transaction.atomic():
        whistle = Whistle.objects.create(
            street=street,
            title=title.strip(),
            description=description,
            address=address,
            grievance=grievance,
            blown_at=now,
            blown_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        Summons.objects.bulk_create(Summons(whistle=whistle, agency=a, due_at=due) for a in summoned)
        audit_record(
            actor=actor,
            action="grievances.whistle.blow",
            target=whistle,
            after={"summoned": [a.pk for a in summoned]},
        )
        _after_commit_notify(
            agencies=[a.pk for a in summoned],
            key=f"whistle:{whistle.pk}",
            title=_("%(street)s blew the whistle: report by %(due)s — %(title)s")
            % {"street": street.name, "due": f"{timezone.localtime(due):%H:%M}", "title": whistle.title},
            url=f"/grievances/whistles/{whistle.pk}/",
        )
    return whistle


def summons_report(*, actor: Any, summons: Summons, note: str = "") -> Summons:
    """报到: the summoned department reports. Late reports are recorded as late, not refused."""
    if not is_staff_of(actor, summons.agency_id):
        raise PermissionRefused(_("Only the summoned department reports."))
    with transaction.atomic():
        summons = Summons.objects.select_for_update().get(pk=summons.pk)
        if summons.reported_at is not None:
            return summons
        summons.reported_at = timezone.now()
        summons.reported_by = actor if getattr(actor, "is_authenticated", False) else None
        summons.note = note.strip()
        summons.save()
        audit_record(actor=actor, action="grievances.summons.report", target=summons, reason=note.strip())
    return summons


def summonses_flag_late(*, now: datetime | None = None) -> int:
    """Flag every summons past its time without a report, once, and tell the street and the department."""
    now = now or timezone.now()
    flagged = 0
    due_ids = list(
        Summons.objects.filter(
            reported_at__isnull=True, late_flagged_at__isnull=True, due_at__lt=now
        ).values_list("pk", flat=True)
    )
    for pk in due_ids:
        with transaction.atomic():
            summons = (
                Summons.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("whistle", "agency")
                .filter(pk=pk, reported_at__isnull=True, late_flagged_at__isnull=True)
                .first()
            )
            if summons is None:
                continue  # reported meanwhile, or another worker has it
            summons.late_flagged_at = now
            summons.save(update_fields=["late_flagged_at"])
            audit_record(actor=None, action="grievances.summons.late", target=summons)
            _after_commit_notify(
                agencies=[summons.agency_id, summons.whistle.street_id],
                roles=[Role.DISPATCHER],
                key=f"summons:{summons.pk}:late",
                title=_("%(agency)s has not reported to the whistle: %(title)s")
                % {"agency": summons.agency.name, "title": summons.whistle.title},
                url=f"/grievances/whistles/{summons.whistle_id}/",
            )
            flagged += 1
    return flagged


def handovers_flag_late(*, now: datetime | None = None) -> int:
    """Flag handovers not completed within their 3 working days, once each."""
    now = now or timezone.now()
    flagged = 0
    for handover in Handover.objects.filter(
        state=HandoverState.REPORTED, late_flagged_at__isnull=True, handover_due__lt=now
    ).select_related("from_agency"):
        updated = Handover.objects.filter(pk=handover.pk, late_flagged_at__isnull=True).update(
            late_flagged_at=now
        )
        if updated:
            flagged += 1
            _after_commit_notify(
                agencies=[handover.to_agency_id, handover.from_agency_id],
                key=f"handover:{handover.pk}:late",
                title=_("Handover overdue: %(matter)s") % {"matter": handover.matter[:80]},
                url=f"/grievances/handovers/{handover.pk}/",
            )
    return flagged
