"""The list of powers delegated to streets (赋权清单): which duty, to which streets, by which decision, from
when — and, once taken back, when and by which amendment.

Imported by ``duty_lists.models`` (which registers it); it refers to the other models by name only. Rows are
written only by duty_lists/services/delegations.py when an edition publishes a delegation amendment (or an
amendment that takes the duty back), so the register always matches the published list.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class DelegatedPower(models.Model):
    """One delegation of a duty from a district department to one or more streets."""

    duty = models.ForeignKey(
        "duty_lists.Duty", on_delete=models.PROTECT, related_name="delegations", verbose_name=_("duty")
    )
    streets = models.ManyToManyField(
        "duty_lists.Agency",
        related_name="delegated_powers",
        limit_choices_to={"level": "street"},
        verbose_name=_("streets"),
    )
    delegating_agency = models.ForeignKey(
        "duty_lists.Agency",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("delegating agency"),
    )
    legal_basis = models.TextField(_("legal basis"), blank=True)
    # The granting decision's name or number, e.g. 区政府令〔2026〕3号.
    decision = models.CharField(_("granting decision"), max_length=200, blank=True)
    granted_on = models.DateField(_("granted on"))
    granting_amendment = models.OneToOneField(
        "duty_lists.Amendment",
        on_delete=models.PROTECT,
        related_name="granted_power",
        verbose_name=_("granting amendment"),
    )
    withdrawn_on = models.DateField(_("withdrawn on"), null=True, blank=True)
    withdrawing_amendment = models.ForeignKey(
        "duty_lists.Amendment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="withdrawn_powers",
        verbose_name=_("withdrawing amendment"),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["duty__code", "-granted_on", "-id"]
        verbose_name = _("delegated power")
        verbose_name_plural = _("delegated powers")
        constraints = [
            models.UniqueConstraint(
                fields=["duty"], condition=Q(withdrawn_on__isnull=True), name="one_active_delegation_per_duty"
            ),
            models.CheckConstraint(
                condition=Q(withdrawn_on__isnull=True) | Q(withdrawn_on__gte=F("granted_on")),
                name="delegation_withdrawn_after_granted",
            ),
            models.CheckConstraint(
                condition=Q(withdrawn_on__isnull=True, withdrawing_amendment__isnull=True)
                | Q(withdrawn_on__isnull=False, withdrawing_amendment__isnull=False),
                name="delegation_withdrawal_names_amendment",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.duty} · {self.decision or self.granted_on}"

    @property
    def is_active(self) -> bool:
        return self.withdrawn_on is None
