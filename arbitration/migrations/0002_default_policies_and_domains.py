"""The default escalation policy (DESIGN: negotiation 5, editorial office 10, leadership 15 working days;
urgent livelihood matters 30 minutes, 2 hours, 4 hours) and the starting list of domains."""

from django.db import migrations

POLICIES = [
    # stage, urgency, working_days, minutes, remind_working_days, remind_minutes
    ("negotiation", "normal", 5, None, 1, None),
    ("editorial_office", "normal", 10, None, 1, None),
    ("leadership", "normal", 15, None, 1, None),
    ("negotiation", "major", 5, None, 1, None),
    ("editorial_office", "major", 10, None, 1, None),
    ("leadership", "major", 15, None, 1, None),
    ("negotiation", "urgent", None, 30, None, 10),
    ("editorial_office", "urgent", None, 120, None, 10),
    ("leadership", "urgent", None, 240, None, 10),
]
DOMAINS = [
    ("urban", "城市管理"),
    ("market", "市场监管"),
    ("ecology", "生态环境"),
    ("housing", "住房和城乡建设"),
    ("transport", "交通运输"),
    ("agriculture", "农业农村"),
    ("social", "民政和社会保障"),
    ("health", "卫生健康"),
    ("public-security", "公安和社会治安"),
    ("other", "其他"),
]


def create(apps, schema_editor):
    Policy = apps.get_model("arbitration", "EscalationPolicy")
    for stage, urgency, days, minutes, remind_days, remind_minutes in POLICIES:
        Policy.objects.get_or_create(
            stage=stage,
            urgency=urgency,
            defaults={
                "working_days": days,
                "minutes": minutes,
                "remind_working_days": remind_days,
                "remind_minutes": remind_minutes,
            },
        )
    Domain = apps.get_model("arbitration", "Domain")
    for code, name in DOMAINS:
        Domain.objects.get_or_create(code=code, defaults={"name": name})


class Migration(migrations.Migration):
    dependencies = [("arbitration", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
