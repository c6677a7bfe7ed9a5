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
