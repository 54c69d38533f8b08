"""Recompute model-call costs from the price table for a period, one bounded batch per step.

A step is one short transaction: it locks the job row (two pollers never handle the same calls),
prices up to BATCH calls after the job's cursor, writes the ones that changed, refreshes the task,
run and session roll-ups they feed (and the daily trace roll-ups, under the workspace's ingest lock
like any writer of them), and moves the cursor. The settings page runs a step per poll;
closing the page pauses the job and opening it again resumes it.
"""

from datetime import UTC, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from traces.ingest.pricing import PriceBook, priced_cost
from traces.keyset import past
from traces.locks import lock_workspace
from traces.models import ModelCall
from traces.rollups.daily import Scope, add, subtract
from traces.rollups.sessions import refresh_costs

from .models import CostRecomputeJob, JobStatus

BATCH = 500
TOKENS = ("prompt_tokens", "completion_tokens", "cached_tokens", "cache_creation_tokens", "reasoning_tokens")
COSTS = ("input_cost", "output_cost", "cost")


def period_bounds(job):
    """[start, end) in UTC for the job's dates, the end day included."""
    start = datetime.combine(job.period_start, time.min, tzinfo=UTC)
    end = datetime.combine(job.period_end + timedelta(days=1), time.min, tzinfo=UTC)
    return start, end


def calls_in_period(job):
    start, end = period_bounds(job)
    return ModelCall.objects.filter(workspace=job.workspace_id, created_at__gte=start, created_at__lt=end)


def start(workspace, user, period_start, period_end):
    """Create the job. Counts the calls of the period once (a range on the model_call_latest index)."""
    job = CostRecomputeJob(
        workspace=workspace, created_by=user, period_start=period_start, period_end=period_end
    )
    job.total = calls_in_period(job).count()
    job.save()
    return job


def step(job_id, workspace, batch=BATCH):
    """Handle the next batch of the job; returns the job as it stands after the batch."""
    with transaction.atomic():
        job = CostRecomputeJob.objects.select_for_update().get(pk=job_id, workspace=workspace)
        if job.status == JobStatus.DONE:
            return job
        calls = calls_in_period(job)
        if job.cursor_at is not None:
            calls = calls.filter(past("created_at", job.cursor_at, job.cursor_id, later=True))
        rows = list(
            calls.order_by("created_at", "id").only(
                "id", "run_id", "model", "provider", "created_at", "cost_sent", *TOKENS, *COSTS
            )[:batch]
        )
        prices = PriceBook(workspace)
        changed = []
        for call in rows:
            if call.cost_sent:
                continue  # the client's own figure: no price of ours replaces it
            tokens = {name: getattr(call, name) for name in TOKENS}
            new = priced_cost(prices, call.model, call.provider, call.created_at, tokens)
            if any(getattr(call, name) != new[name] for name in COSTS):
                for name in COSTS:
                    setattr(call, name, new[name])
                changed.append(call)
        if changed:
            # The ingest lock from here to the commit: the roll-up delta must not interleave with a fold.
            lock_workspace(workspace)
            runs = Scope.of(runs={call.run_id for call in changed})
            subtract(runs)
            ModelCall.objects.bulk_update(changed, COSTS, batch_size=BATCH)
            refresh_costs(runs.runs)
            add(runs)
        job.done += len(rows)
        job.changed += len(changed)
        if rows:
            job.cursor_at, job.cursor_id = rows[-1].created_at, rows[-1].pk
        if len(rows) < batch:
            job.status, job.finished_at = JobStatus.DONE, timezone.now()
            job.total = max(job.total, job.done)
        job.save()
    return job
