from django.db import migrations

# The field's defaults: urgent the same working day, consultation and help 3 working days, complaint,
# report and suggestion 13.
DEFAULTS = [
    ("urgent", "紧急诉求", 0, 1),
    ("consultation", "咨询", 3, 24),
    ("help", "求助", 3, 24),
    ("complaint", "投诉", 13, 24),
    ("report", "举报", 13, 24),
    ("suggestion", "建议", 13, 24),
]


def create(apps, schema_editor):
    DeadlinePolicy = apps.get_model("grievances", "DeadlinePolicy")
    for kind, label, days, hours in DEFAULTS:
        DeadlinePolicy.objects.get_or_create(
            kind=kind, defaults={"label": label, "working_days": days, "accept_hours": hours}
        )


class Migration(migrations.Migration):
    dependencies = [("grievances", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
