"""manage.py export_traces: one pass of the trace exporters (traces.export.outbox.export_pending)."""

from django.core.management.base import BaseCommand

from traces.export.outbox import export_pending


class Command(BaseCommand):
    help = (
        "Queue the runs that finished or changed since the last pass and send the due ones to every "
        "enabled exporter. Safe to run from cron or beside other passes; failures wait out their backoff."
    )

    def handle(self, *args, **options):
        totals = export_pending()
        self.stdout.write("{queued} runs queued, {sent} sent, {failed} failed".format(**totals))
