"""Remove the default price rows that backoffice 0003 seeded: genai-prices is now the one default source
(traces.ingest.pricing). Rows a workspace added, and global rows whose price someone changed, stay."""

import importlib
from decimal import Decimal

from django.db import migrations

seeded = importlib.import_module("backoffice.migrations.0003_default_model_prices")


def remove_seeded(apps, schema_editor):
    ModelPrice = apps.get_model("traces", "ModelPrice")
    for pattern, input_price, output_price, cached_price in seeded.DEFAULT_PRICES:
        ModelPrice.objects.filter(
            workspace__isnull=True,
            model_pattern=pattern,
            input_per_million=Decimal(input_price),
            output_per_million=Decimal(output_price),
            cached_per_million=Decimal(cached_price),
            effective_from__isnull=True,
        ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("traces", "0012_backfill_cost_sent_and_counts"),
        ("backoffice", "0003_default_model_prices"),
    ]

    operations = [migrations.RunPython(remove_seeded, seeded.add_defaults)]
