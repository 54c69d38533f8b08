import time
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils.text import slugify
from tqdm import tqdm

from backoffice.models import ApiKey, Workspace
from traces import demo
from traces.demo import reviews
from traces.ingest import REJECTED, ingest_batch
from traces.models import Event, Run, Session

DEFAULT_WORKSPACE = "demo"


class ProgressOut:
    """Lets tqdm draw on the command's stdout, whose write() would end every frame with a newline."""

    def __init__(self, stdout):
        self.stdout = stdout

    def write(self, text):
        self.stdout.write(text, ending="")

    def flush(self):
        self.stdout.flush()


class Command(BaseCommand):
    help = (
        "Load realistic demo data (three agents, ~14 days of runs, conversations, reviews) through the "
        "event ingest. The same --seed within the same hour gives the same rows."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale", type=int, default=1, help="1 is a few hundred runs; 10 is ten times that"
        )
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--workspace", default=DEFAULT_WORKSPACE, help="workspace slug (created when missing)"
        )
        parser.add_argument("--if-empty", action="store_true", help="do nothing when the workspace has runs")
        parser.add_argument(
            "--anchor",
            type=datetime.fromisoformat,
            help="the demo's 'now' as an ISO date-time with offset (default: the current hour, UTC)",
        )

    def handle(self, *args, scale, seed, workspace, if_empty, anchor, **options):
        if scale < 1:
            raise CommandError("--scale must be 1 or more")
        if slugify(workspace) != workspace or not workspace:
            raise CommandError(f"--workspace must be a slug (letters, digits, -, _), not {workspace!r}")
        if anchor is not None and anchor.tzinfo is None:
            raise CommandError("--anchor needs a UTC offset, e.g. 2026-11-20T09:00:00+00:00")
        found = Workspace.objects.filter(slug=workspace).first()
        if if_empty and found and Run.objects.filter(workspace=found).exists():
            self.stdout.write(f"Workspace {workspace} already has runs: no demo data loaded.")
            return
        if found is None:
            name = "Demo workspace" if workspace == DEFAULT_WORKSPACE else workspace.replace("-", " ").title()
            found = Workspace.objects.create(slug=workspace, name=name)

        began = time.monotonic()
        data = demo.generate(seed, scale, anchor or demo.current_anchor())
        self.send(found, data)
        # The demo's events span days but arrive in one go: date each run's last change by its last
        # event, as if its agent had sent them as they happened, so that the runs the demo leaves hanging
        # in "running" read as gone quiet (traces/live.py) instead of polling.
        last_event = Event.objects.filter(run=OuterRef("pk")).order_by("-timestamp").values("timestamp")[:1]
        Run.objects.filter(workspace=found).update(updated_at=Coalesce(Subquery(last_event), F("updated_at")))
        filed = reviews.create(found, data.review_plans)
        runs = Run.objects.filter(workspace=found).count()
        sessions = Session.objects.filter(workspace=found).count()
        self.stdout.write(
            f"Workspace {found.slug}: {runs} runs in {sessions} conversations from "
            f"{len(data.events):,} events, "
            f"{filed} reviews filed ({time.monotonic() - began:.1f} s)."
        )
        api_key, raw_key = ApiKey.issue(found, "demo data")
        self.stdout.write(f"API key {api_key.label!r} for workspace {found.slug} (shown once):")
        self.stdout.write(raw_key)

    def send(self, workspace, data):
        with tqdm(
            total=len(data.events), desc="Sending events", unit="event", file=ProgressOut(self.stdout)
        ) as bar:
            for batch in data.batches():
                results = ingest_batch(workspace, batch)
                rejected = [r for r in results if r["status"] == REJECTED]
                if rejected:
                    first = rejected[0]
                    raise CommandError(
                        f"{len(rejected)} demo events rejected, first {first['id']}: "
                        f"{first['field']} {first['reason']}"
                    )
                bar.update(len(batch))
