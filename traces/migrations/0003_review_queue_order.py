from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('traces', '0002_purge_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='review',
            name='priority_rank',
            field=models.GeneratedField(db_persist=True, expression=models.Case(models.When(priority='low', then=models.Value(1)), models.When(priority='medium', then=models.Value(2)), models.When(priority='high', then=models.Value(3)), models.When(priority='urgent', then=models.Value(4)), default=models.Value(0)), output_field=models.SmallIntegerField()),
        ),
        migrations.AddIndex(
            model_name='review',
            index=models.Index(fields=['workspace', 'status', '-priority_rank', 'created_at', 'id'], name='review_queue'),
        ),
    ]
