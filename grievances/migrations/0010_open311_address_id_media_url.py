"""Open311's address_id and media_url become columns. Until now they were kept as the last lines of the
grievance's details ("media_url: https://…"); those lines move into the columns and leave the details."""

import re

from django.db import migrations, models

_EXTRA_LINE = re.compile(r"^(media_url|address_id): (\S+)$", re.MULTILINE)


def lines_to_columns(apps, schema_editor):
    Grievance = apps.get_model("grievances", "Grievance")
    carrying = Grievance.objects.filter(channel="open311").filter(
        models.Q(details__contains="media_url: ") | models.Q(details__contains="address_id: ")
    )
    for grievance in carrying.iterator(chunk_size=500):
        extras = {m.group(1): m.group(2) for m in _EXTRA_LINE.finditer(grievance.details)}
        if not extras:
            continue
        grievance.details = _EXTRA_LINE.sub("", grievance.details).strip()
        grievance.address_id = extras.get("address_id", "")[:100]
        grievance.media_url = extras.get("media_url", "")[:500]
        grievance.save(update_fields=["details", "address_id", "media_url"])


def columns_to_lines(apps, schema_editor):
    Grievance = apps.get_model("grievances", "Grievance")
    carrying = Grievance.objects.exclude(address_id="", media_url="")
    for grievance in carrying.iterator(chunk_size=500):
        trailer = "\n".join(
            f"{name}: {value}"
            for name, value in (("media_url", grievance.media_url), ("address_id", grievance.address_id))
            if value
        )
        grievance.details = f"{grievance.details}\n\n{trailer}".strip()
        grievance.save(update_fields=["details"])


class Migration(migrations.Migration):
    dependencies = [("grievances", "0009_list_indexes")]

    operations = [
        migrations.AddField(
            model_name="grievance",
            name="address_id",
            field=models.CharField(blank=True, max_length=100, verbose_name="address id"),
        ),
        migrations.AddField(
            model_name="grievance",
            name="media_url",
            field=models.URLField(blank=True, max_length=500, verbose_name="media URL"),
        ),
        migrations.RunPython(lines_to_columns, columns_to_lines),
    ]
