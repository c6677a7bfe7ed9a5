from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GrievancesConfig(AppConfig):
    name = "grievances"
    verbose_name = _("Grievances")

    def ready(self) -> None:
        from duty_lists.signals import edition_published

        edition_published.connect(_reroute_after_edition, dispatch_uid="grievances.reroute_after_edition")
        edition_published.connect(_rescore_after_edition, dispatch_uid="grievances.rescore_after_edition")
        edition_published.connect(_retrain_after_edition, dispatch_uid="grievances.retrain_after_edition")
        _register_jobs()
        from core import registry
        from grievances import navigation

        registry.register_navigation(30, navigation.entries)
        registry.register_banner(_demo_open311_key)
        from duty_lists import hooks

        hooks.amendment_actions.append(_replay_action)


def _reroute_after_edition(sender: object, edition: object, **kwargs: object) -> None:
    from grievances.tasks import reroute_after_edition

    reroute_after_edition.delay(edition.pk)  # type: ignore[attr-defined]


def _rescore_after_edition(sender: object, edition: object, **kwargs: object) -> None:
    # The signal is sent after the publishing transaction commits, so the task sees the new edition.
    from grievances.tasks import rescore_after_edition

    rescore_after_edition.delay(edition.pk)  # type: ignore[attr-defined]


def _retrain_after_edition(sender: object, edition: object, **kwargs: object) -> None:
    # The model's prior documents are the list's words, and its usual duties the list's duties.
    from grievances.tasks import retrain_router

    retrain_router.delay(f"edition {edition}")


def _demo_open311_key() -> list[str]:
    from grievances.demo import DEMO_OPEN311_CLIENT, demo_open311_key

    # From the database, not a constant: an administrator may have re-issued the demo client's key.
    key = demo_open311_key()
    return [f"  Demo Open311 API key ({DEMO_OPEN311_CLIENT}): {key}"] if key else []


def _office(user: object) -> bool:
    from duty_lists.permissions import acts_for_office

    return acts_for_office(user)


def _register_jobs() -> None:
    from core import jobs

    jobs.register("grievances.gaps", run=_gaps_job, may_start=_office, label=_("Gap search"))
    jobs.register("grievances.replay", run=_replay_job, may_start=_office, label=_("What-if replay"))
    jobs.register("grievances.digest", run=_digest_job, may_start=_office, label=_("Daily digest"))


def _gaps_job(job: Any, progress: Any) -> dict[str, Any]:
    from grievances.gaps import find_gaps

    return find_gaps(days=int(job.params.get("days", 90)), progress=progress)


def _replay_job(job: Any, progress: Any) -> dict[str, Any]:
    from duty_lists.models import Amendment
    from grievances.replay import replay

    amendment = Amendment.objects.select_related("duty_list", "duty").get(pk=job.params["amendment"])
    return replay(amendment, months=int(job.params.get("months", 6)), progress=progress)


def _digest_job(job: Any, progress: Any) -> dict[str, Any]:
    from datetime import date

    from core.actors import SYSTEM
    from grievances.services.digest import digest_build

    digest = digest_build(
        actor=job.requested_by or SYSTEM, day=date.fromisoformat(job.params["day"]), progress=progress
    )
    return {"digest": digest.pk, "day": digest.day.isoformat(), "mailed_to": digest.mailed_to}


def _replay_action(user: Any, amendment: Any) -> tuple[str, str] | None:
    """The what-if replay, offered on an amendment still under review to the editorial office."""
    from django.urls import reverse

    from grievances.views.intelligence import OPEN_AMENDMENT_STATES

    if not _office(user) or amendment.state not in OPEN_AMENDMENT_STATES:
        return None
    return str(_("What if? Replay the grievances")), reverse("grievances:replay", args=[amendment.pk])
