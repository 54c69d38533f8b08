"""The default price table: global rows (no workspace) for common models, USD per million tokens.

Workspaces override them in Settings › Model prices. The rows carry no effective date, so they price
calls of any age; a workspace adds dated rows when a provider changes its prices.
"""

from decimal import Decimal

from django.db import migrations

# model pattern, input, output, cached input
DEFAULT_PRICES = [
    ("gpt-5*", "1.25", "10", "0.125"),
    ("gpt-5-mini*", "0.25", "2", "0.025"),
    ("gpt-5-nano*", "0.05", "0.40", "0.005"),
    ("gpt-4.1*", "2", "8", "0.50"),
    ("gpt-4.1-mini*", "0.40", "1.60", "0.10"),
    ("gpt-4.1-nano*", "0.10", "0.40", "0.025"),
    ("gpt-4o*", "2.50", "10", "1.25"),
    ("gpt-4o-mini*", "0.15", "0.60", "0.075"),
    ("o1*", "15", "60", "7.50"),
    ("o3*", "2", "8", "0.50"),
    ("o3-mini*", "1.10", "4.40", "0.55"),
    ("o4-mini*", "1.10", "4.40", "0.275"),
    ("text-embedding-3-small*", "0.02", "0", "0"),
    ("text-embedding-3-large*", "0.13", "0", "0"),
    ("claude-opus-4*", "15", "75", "1.50"),
    ("claude-opus-4-5*", "5", "25", "0.50"),
    ("claude-sonnet-4*", "3", "15", "0.30"),
    ("claude-3-7-sonnet*", "3", "15", "0.30"),
    ("claude-3-5-sonnet*", "3", "15", "0.30"),
    ("claude-haiku-4-5*", "1", "5", "0.10"),
    ("claude-3-5-haiku*", "0.80", "4", "0.08"),
    ("gemini-2.5-pro*", "1.25", "10", "0.31"),
    ("gemini-2.5-flash*", "0.30", "2.50", "0.075"),
    ("gemini-2.0-flash*", "0.10", "0.40", "0.025"),
    ("mistral-large*", "2", "6", "0"),
]


def add_defaults(apps, schema_editor):
    ModelPrice = apps.get_model("traces", "ModelPrice")
    known = set(ModelPrice.objects.filter(workspace__isnull=True).values_list("model_pattern", flat=True))
    ModelPrice.objects.bulk_create(
        ModelPrice(
            workspace=None,
            model_pattern=pattern,
            input_per_million=Decimal(input_price),
            output_per_million=Decimal(output_price),
            cached_per_million=Decimal(cached_price),
        )
        for pattern, input_price, output_price, cached_price in DEFAULT_PRICES
        if pattern not in known
    )


def remove_defaults(apps, schema_editor):
    ModelPrice = apps.get_model("traces", "ModelPrice")
    patterns = [row[0] for row in DEFAULT_PRICES]
    ModelPrice.objects.filter(workspace__isnull=True, model_pattern__in=patterns).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0002_audit_log_and_cost_recompute_jobs"),
        ("traces", "0001_initial"),
    ]

    operations = [migrations.RunPython(add_defaults, remove_defaults)]
