from django.db import migrations, models


def unrate_untouched_rule_reviews(apps, schema_editor):
    """Reviews a routing rule opened were stored as "neutral". Those nobody has edited since become
    unrated; an edit (the review form shows the rating and saves it with the rest, and the activity
    log records every edit) or a logged change of rating keeps the rating a person saw and saved. A
    status move alone rates nothing."""
    Review = apps.get_model("traces", "Review")
    ReviewActivity = apps.get_model("traces", "ReviewActivity")
    touched = ReviewActivity.objects.filter(action="edited").values("review_id")
    rated = ReviewActivity.objects.filter(changes__has_key="rating").values("review_id")
    untouched = Review.objects.filter(rule__isnull=False, rating="neutral")
    untouched.exclude(pk__in=touched).exclude(pk__in=rated).update(rating="")


class Migration(migrations.Migration):
    dependencies = [
        ("traces", "0023_search_index_pending_list_limits"),
    ]

    operations = [
        migrations.AlterField(
            model_name="review",
            name="rating",
            field=models.CharField(
                blank=True, choices=[("good", "Good"), ("neutral", "Neutral"), ("bad", "Bad")], max_length=16
            ),
        ),
        migrations.RunPython(unrate_untouched_rule_reviews, migrations.RunPython.noop),
    ]
