from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("arbitration", "0005_list_indexes")]

    operations = [
        migrations.AddIndex(
            model_name="notification",
            index=models.Index(
                condition=models.Q(("emailed_at__isnull", True)),
                fields=["created_at"],
                name="notification_unemailed",
            ),
        ),
    ]
