from typing import Any

from django.db import migrations, models


def backfill(apps: Any, schema_editor: Any) -> None:
    """Amendments written before the field existed: the agencies of the proposal and of the duty in force."""
    Agency = apps.get_model("duty_lists", "Agency")
    Amendment = apps.get_model("duty_lists", "Amendment")
    Participation = apps.get_model("duty_lists", "Participation")
    for amendment in Amendment.objects.all().iterator():
        codes = {p.get("agency") for p in (amendment.proposal or {}).get("participants") or []}
        ids = set(Agency.objects.filter(code__in=codes).values_list("pk", flat=True))
        if amendment.duty_id is not None:
            ids |= set(
                Participation.objects.filter(
                    revision__duty_id=amendment.duty_id,
                    revision__edition__isnull=False,
                    revision__valid_until__isnull=True,
                ).values_list("agency_id", flat=True)
            )
        amendment.affected_agencies.set(ids)


class Migration(migrations.Migration):
    dependencies = [
        ("duty_lists", "0005_search_synonyms"),
    ]

    operations = [
        migrations.AddField(
            model_name="amendment",
            name="affected_agencies",
            field=models.ManyToManyField(
                blank=True,
                related_name="affecting_amendments",
                to="duty_lists.agency",
                verbose_name="affected agencies",
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
