from django.core.management.base import BaseCommand, CommandError

from backoffice.forget import Forget, forget
from backoffice.models import Workspace
from backoffice.retention import BATCH


class Command(BaseCommand):
    help = (
        "Delete everything a workspace holds about one end user (user_id): conversations, runs, tasks, "
        "model calls, chat messages, events, business events, scores and reviews, in small batches, "
        "keeping every roll-up exact. The audit log keeps the counts and a keyed hash of the id, not the "
        "id. Safe to interrupt: run it again to finish."
    )

    def add_arguments(self, parser):
        parser.add_argument("workspace", help="The workspace's slug.")
        parser.add_argument("user_id", help="The end user's id, as the agents send it.")
        parser.add_argument("--dry-run", action="store_true", help="Count what would go; delete nothing.")
        parser.add_argument("--batch-size", type=int, default=BATCH, help=f"Rows per transaction ({BATCH}).")

    def handle(self, *args, workspace, user_id, dry_run=False, batch_size=BATCH, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        if not user_id.strip():
            raise CommandError("user_id: must not be empty")
        ws = Workspace.objects.filter(slug=workspace).first()
        if ws is None:
            raise CommandError(f"workspace: no workspace has the slug {workspace!r}")
        if dry_run:
            self.stdout.write(f"{ws.slug}: dry run, forgetting this end user would remove:")
            self.report(Forget(workspace=ws, user_id=user_id).estimate())
            return
        removed = forget(ws, user_id, actor_name="manage.py forget_user", batch=batch_size)
        self.stdout.write(f"{ws.slug}: end user forgotten. Removed:")
        self.report(removed)

    def report(self, counts):
        for name, count in counts.items():
            self.stdout.write(f"  {name:<16} {count}")
