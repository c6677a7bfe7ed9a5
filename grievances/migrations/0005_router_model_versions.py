from django.conf import settings
from django.db import migrations


def forget_perceptron_models(apps, schema_editor):
    # The hand-written perceptron's JSON cannot be read by the scikit-learn router: the next training
    # replaces it, and until then the list routes alone.
    apps.get_model("grievances", "RouterModel").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("grievances", "0004_grievance_publication"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(forget_perceptron_models, migrations.RunPython.noop),
        migrations.RemoveField(model_name="routermodel", name="payload"),
        migrations.AlterModelOptions(
            name="routermodel",
            options={
                "ordering": ["-created_at", "-id"],
                "verbose_name": "router model",
                "verbose_name_plural": "router models",
            },
        ),
    ]
