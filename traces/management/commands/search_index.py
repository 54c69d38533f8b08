"""manage.py search_index: rebuild the search documents from the stored rows (the backfill)."""

from django.core.management.base import BaseCommand, CommandError

from backoffice.models import Workspace
from traces.search import index


class Command(BaseCommand):
    help = (
        "Rebuild the search index of every workspace (or of those named) from the stored rows: for data "
        "stored before search existed. Safe to run while ingest runs, and again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workspace", action="append", default=[], help="A workspace slug (repeatable).")

    def handle(self, *args, workspace, **options):
        workspaces = Workspace.objects.order_by("pk")
        if workspace:
            workspaces = workspaces.filter(slug__in=workspace)
            missing = set(workspace) - set(workspaces.values_list("slug", flat=True))
            if missing:
                raise CommandError(f"No such workspace: {', '.join(sorted(missing))}")
        for ws in workspaces:
            done = 0

            def progress(count, ws=ws):
                nonlocal done
                done += count
                self.stdout.write(f"{ws.slug}: {done} runs indexed")

            index.backfill(ws, progress)
            self.stdout.write(f"{ws.slug}: done")
