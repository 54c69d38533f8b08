"""The review export streams: the server's memory stays flat while thousands of examples go out."""

import http.client

from django.utils import timezone

from backoffice.models import ApiKey, Workspace
from traces.models import Review, Run

from .ingest import growth
from .measure import Figure, NotMeasured, not_measured, require_route

PATH = "/api/v1/reviews/export"
TARGET = "growth ≤ 20 %"
CHUNK = 64 * 1024


def export_figure(facts, *, reviews, server):
    name = f"Review export of {reviews:,} resolved reviews, server memory"
    try:
        require_route(PATH)
    except NotMeasured:
        return not_measured(name, TARGET, "the review export is not on this branch yet")
    if not server:
        return not_measured(name, TARGET, "needs the server process (a server run)")
    workspace = Workspace.objects.get(slug=facts.workspaces[0])
    api_key, raw_key = ApiKey.issue(workspace, "bench export")
    runs = Run.objects.filter(workspace=workspace, review__isnull=True, status="completed")
    now = timezone.now()
    made = Review.objects.bulk_create(
        [
            Review(
                workspace=workspace,
                run_id=pk,
                rating="bad",
                comment="The answer missed the refund policy; corrected below.",
                status="resolved",
                corrected_output="Refunds take 3-5 working days once the parcel is scanned.",
                resolved_by="bench",
                resolved_at=now,
            )
            for pk in runs.order_by("-started_at").values_list("pk", flat=True)[:reviews]
        ],
        batch_size=1000,
    )
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
        conn.request("GET", PATH, headers={"Authorization": f"Bearer {raw_key}"})
        response = conn.getresponse()
        if response.status != 200:
            return not_measured(name, TARGET, f"{PATH} answered {response.status}")
        samples, size, lines = [], 0, 0
        try:
            while chunk := response.read(CHUNK):
                size += len(chunk)
                lines += chunk.count(b"\n")
                samples.append(server.resident_kib())
        except (http.client.HTTPException, OSError) as exc:
            reason = f"the stream broke after {size:,} bytes ({type(exc).__name__}): a worker timeout?"
            return not_measured(name, TARGET, reason)
        if len(samples) < 10:
            return not_measured(name, TARGET, f"the export was too short to tell ({size:,} bytes)")
        grew, early, late = growth(samples)
        note = f"{lines:,} examples, {size / 2**20:,.1f} MiB streamed; "
        note += f"server {early / 1024:,.0f} → {late / 1024:,.0f} MiB"
        return Figure(name, TARGET, f"{grew * 100:+.0f} %", grew <= 0.2, note=note)
    finally:
        Review.objects.filter(pk__in=[r.pk for r in made]).delete()
        api_key.delete()
