"""Mark the costs clients sent, and count the known costs of the daily roll-ups.

Before 0011 a cost the client sent was the one stored with no input/output split (the price table
always set both parts), which is how cost recompute told them apart: that test becomes the flag. Every
cost stored before 0011 is known, so each roll-up row's count of known costs is its row count.
"""

from django.db import migrations
from django.db.models import F


def forwards(apps, schema_editor):
    ModelCall = apps.get_model("traces", "ModelCall")
    TraceRollup = apps.get_model("traces", "TraceRollup")
    ModelCall.objects.filter(input_cost=0, output_cost=0).exclude(cost=0).update(cost_sent=True)
    TraceRollup.objects.update(cost_count=F("n"))


class Migration(migrations.Migration):
    dependencies = [("traces", "0011_token_kinds_and_unknown_costs")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]
