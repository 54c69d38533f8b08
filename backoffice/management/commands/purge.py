from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from backoffice import audit
from backoffice.models import Workspace
from backoffice.retention import BATCH, Purge


class Command(BaseCommand):
    help = (
        "Apply each workspace's retention tiers (payloads, then rows, then daily roll-ups) and its audit "
        "retention, in small batches. Safe to interrupt: run it again to finish."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workspace", metavar="SLUG", help="Only this workspace.")
        parser.add_argument("--dry-run", action="store_true", help="Count what would go; delete nothing.")
        parser.add_argument("--batch-size", type=int, default=BATCH, help=f"Rows per transaction ({BATCH}).")

    def handle(self, *args, workspace=None, dry_run=False, batch_size=BATCH, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        workspaces = Workspace.objects.order_by("slug")
        if workspace:
            workspaces = workspaces.filter(slug=workspace)
            if not workspaces.exists():
                raise CommandError(f"--workspace: no workspace has the slug {workspace!r}")
        for ws in workspaces:
            self.purge_data(ws, dry_run, batch_size, named=bool(workspace))
            self.purge_audit(ws, dry_run, batch_size)

    def purge_data(self, ws, dry_run, batch_size, named):
        purge = Purge.for_workspace(ws, batch=batch_size)
        if not purge.anything:
            if named:
                self.stdout.write(f"{ws.slug}: keeps data forever; nothing to purge.")
            return
        head = f"{ws.slug}: " + "; ".join(
            f"{name} before {cutoff:%Y-%m-%d %H:%M} UTC"
            for name, cutoff in (
                ("payloads", purge.payload_cutoff),
                ("data", purge.cutoff),
                ("daily roll-ups", purge.rollup_cutoff),
            )
            if cutoff is not None
        )
        estimate = purge.estimate()
        if dry_run:
            self.stdout.write(f"{head} — dry run, would remove:")
            self.report(estimate)
            return
        self.stdout.write(head)
        self.purge(ws, purge, sum(estimate.values()))

    def purge_audit(self, ws, dry_run, batch_size):
        """The audit log goes by its own, longer retention, and only this way (backoffice.audit)."""
        if ws.audit_retention_days is None:
            return
        head = f"{ws.slug}: audit entries older than {ws.audit_retention_days} days"
        if dry_run:
            self.stdout.write(f"{head} — dry run, would remove:")
            self.report({"audit entries": audit.expired(ws).count()})
            return
        self.stdout.write(head)
        self.stdout.write("Removed:")
        self.report({"audit entries": audit.purge(ws, batch=batch_size)})

    def purge(self, ws, purge, total):
        bar = tqdm(total=total, desc=ws.slug, unit="row", file=self.stderr, leave=False, dynamic_ncols=True)

        def advance(name, count):
            bar.set_postfix_str(name, refresh=False)
            bar.update(count)

        try:
            purge.run(progress=advance)
        except KeyboardInterrupt:
            bar.close()
            self.stdout.write("Removed before the interruption:")
            self.report(purge.removed)
            raise CommandError(
                "Interrupted. What was removed stays removed: run purge again to finish."
            ) from None
        bar.close()
        self.stdout.write("Removed:")
        self.report(purge.removed)

    def report(self, counts):
        if not any(counts.values()):
            self.stdout.write("  nothing")
            return
        width = max(len(name) for name in counts)
        for name, count in counts.items():
            if count:
                self.stdout.write(f"  {name.ljust(width)}  {count:>10,}")
