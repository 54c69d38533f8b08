"""Roll-ups recomputed from the stored rows: a session's counts and preview, a run's tokens and cost.

Used by the ingest fold after every batch, by `purge` after deleting old rows and by the cost
recompute after changing model-call costs, so all three leave the same numbers.
"""

import json

from django.db.models import Count, Max, Min, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce

from traces import bulk
from traces.models import ChatMessage, ChatRole, ModelCall, Run, RunStatus, Session, Task

PREVIEW_CHARS = 300
SESSION_ROLLUPS = [
    "run_count",
    "message_count",
    "total_tokens",
    "cost",
    "has_error",
    "started_at",
    "last_activity_at",
    "last_user_text",
    "last_assistant_text",
]


def preview(content):
    """A one-line text preview of chat content: never raw JSON."""
    if content is None:
        return ""
    if isinstance(content, dict):
        text = content.get("text") or content.get("title") or content.get("alt") or f"[{content.get('type')}]"
        content = text if isinstance(text, str) else f"[{content.get('type')}]"
    text = " ".join(str(content).split())
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def decode(value):
    """A JSON column read through a subquery comes back as text on some backends."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _latest_content(role):
    return Subquery(
        ChatMessage.objects.filter(session=OuterRef("pk"), role=role)
        .order_by("-sequence")
        .values("content")[:1]
    )


def refresh_sessions(ids, widen=True):
    """Recompute the roll-ups of these sessions (primary keys) from their runs and messages. Four queries.

    The fold widens the times the row holds (`widen`), so sessions named only by business events keep
    the same times whatever the order of batches; a purge, which removes what set them, does not.
    """
    ids = set(ids)
    if not ids:
        return
    runs = (
        Run.objects.filter(session__in=ids)
        .values("session")
        .annotate(
            n=Count("id"),
            tokens=Sum("total_tokens"),
            cost_sum=Sum("cost"),
            failed=Count("id", filter=Q(status=RunStatus.FAILED)),
            first=Min("started_at"),
            last=Max(Coalesce("ended_at", "started_at")),
        )
    )
    messages = (
        ChatMessage.objects.filter(session__in=ids)
        .values("session")
        .annotate(n=Count("id"), first=Min("created_at"), last=Max("created_at"))
    )
    run_rows = {r["session"]: r for r in runs}
    message_rows = {m["session"]: m for m in messages}
    changed = []
    for session in Session.objects.filter(pk__in=ids).annotate(
        latest_user=_latest_content(ChatRole.USER), latest_assistant=_latest_content(ChatRole.ASSISTANT)
    ):
        r, m = run_rows.get(session.pk, {}), message_rows.get(session.pk, {})
        times = [t for t in (r.get("first"), m.get("first")) if t]
        lasts = [t for t in (r.get("last"), m.get("last")) if t]
        values = {
            "run_count": r.get("n", 0),
            "message_count": m.get("n", 0),
            "total_tokens": r.get("tokens") or 0,
            "cost": r.get("cost_sum"),  # NULL when no run has a known cost
            "has_error": bool(r.get("failed")),
            "started_at": min([session.started_at, *times] if widen or not times else times),
            "last_activity_at": max([session.last_activity_at, *lasts] if widen or not lasts else lasts),
            "last_user_text": preview(decode(session.latest_user)),
            "last_assistant_text": preview(decode(session.latest_assistant)),
        }
        if any(getattr(session, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(session, name, value)
            changed.append(session)
    # With COPY on PostgreSQL: bulk_update's CASE WHEN per row and column took ~15 ms a batch to build.
    bulk.update(Session, changed, SESSION_ROLLUPS)


def refresh_costs(run_pks):
    """Recompute task and run cost from their model calls, then the runs' sessions. A handful of queries.
    A cost is the sum of the known ones; NULL (unknown) when no call's cost is known."""
    run_pks = set(run_pks)
    if not run_pks:
        return
    calls = ModelCall.objects.filter(task=OuterRef("pk")).values("task")
    Task.objects.filter(pk__in=ModelCall.objects.filter(run__in=run_pks).values("task")).update(
        cost=Subquery(calls.annotate(s=Sum("cost")).values("s"))
    )
    run_calls = ModelCall.objects.filter(run=OuterRef("pk")).values("run")
    Run.objects.filter(pk__in=run_pks).update(cost=Subquery(run_calls.annotate(s=Sum("cost")).values("s")))
    refresh_sessions(
        Run.objects.filter(pk__in=run_pks, session__isnull=False).values_list("session", flat=True).distinct()
    )


def refresh_run_totals(run_pks, task_pks=()):
    """Recompute runs' model-call counts, tokens and cost from the model calls they still have, the
    tokens and cost of these tasks likewise, then the runs' sessions. For deletes outside the fold
    (the admin): the fold sums the same columns (traces/ingest/fold.py). A handful of queries."""
    run_pks = set(run_pks)
    if not run_pks:
        return
    by_run = ModelCall.objects.filter(run=OuterRef("pk")).values("run")
    by_task = ModelCall.objects.filter(task=OuterRef("pk")).values("task")

    def summed(calls, column, zero=0):
        """The sum over the calls; `zero` when there is none (None: the sum of no known cost is unknown)."""
        total = Subquery(calls.annotate(s=Sum(column)).values("s"))
        return total if zero is None else Coalesce(total, zero)

    Run.objects.filter(pk__in=run_pks).update(
        model_calls=Coalesce(Subquery(by_run.annotate(n=Count("id")).values("n")), 0),
        prompt_tokens=summed(by_run, "prompt_tokens"),
        completion_tokens=summed(by_run, "completion_tokens"),
        cached_tokens=summed(by_run, "cached_tokens"),
        total_tokens=summed(by_run, "total_tokens"),
        cost=summed(by_run, "cost", None),
    )
    Task.objects.filter(pk__in=set(task_pks)).update(
        total_tokens=summed(by_task, "total_tokens"), cost=summed(by_task, "cost", None)
    )
    refresh_sessions(
        Run.objects.filter(pk__in=run_pks, session__isnull=False)
        .values_list("session", flat=True)
        .distinct(),
        widen=False,
    )
