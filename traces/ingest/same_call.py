"""Several spans that report the same model response are one model call.

Some instrumentations report one call twice: OpenLLMetry's Anthropic instrumentation makes both an
`anthropic.chat` span and an `anthropic.messages.create` span, each with the response's
`gen_ai.response.id`, one with the messages and the finish reason, the other without. Counted as two
calls, the tokens and the cost of the run double. So a span with a response id gets the call id
`response:<id>` (call_id), and the fold keeps one row per call id of a run, merging what each span
says (SameCalls), whichever spans come first, in one request or in several:

- counts, latency and costs: the largest (a span that saw less of the call reports less of it);
- time to first token: the earliest reported; status: error when any span says so;
- model, provider and finish reason: the one reported (the first by name when spans disagree);
- payloads and the error: the fuller one;
- the task that shows the call, and its time: those of the earliest span (by start, then span id).

Each rule picks by the values alone, so the merged row is the same in any order.
"""

import json
from collections import defaultdict

from django.db.models import Exists, OuterRef
from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import GEN_AI_RESPONSE_ID

from traces import bulk
from traces.models import ModelCall, Task

from .checks import ID_CHARS

PREFIX = "response:"
LARGEST = ("prompt_tokens", "completion_tokens", "cached_tokens", "total_tokens", "latency_ms")
LARGEST_COST = ("input_cost", "output_cost", "cost")
NAMES = ("model", "provider", "finish_reason")
PAYLOADS = ("request", "response", "error", "metadata")
PLACE = ("created_at", "step_id", "task")
MERGED = (*LARGEST, *LARGEST_COST, "ttft_ms", *NAMES, "status", *PAYLOADS, *PLACE)
UNNAMED = ("", "unknown")  # a model the span did not name (otlp.llm_call_body)


def call_id(span_id, attrs):
    """The call id of a span's model call: its response's, when it names one."""
    response_id = attrs.get(GEN_AI_RESPONSE_ID)
    if isinstance(response_id, str) and response_id.strip():
        return (PREFIX + response_id.strip())[:ID_CHARS]
    return span_id


def merge(a, b):
    """The row for two reports of the same call, as {field: value}."""
    merged = {}
    for name in LARGEST + LARGEST_COST:
        values = [v for v in (a[name], b[name]) if v is not None]
        merged[name] = max(values) if values else None
    ttfts = [v for v in (a["ttft_ms"], b["ttft_ms"]) if v is not None]
    merged["ttft_ms"] = min(ttfts) if ttfts else None
    for name in NAMES:
        named = sorted(v for v in (a[name], b[name]) if v not in UNNAMED)
        merged[name] = named[0] if named else a[name] or b[name]
    merged["status"] = "error" if "error" in (a["status"], b["status"]) else a["status"]
    for name in PAYLOADS:
        merged[name] = max(a[name], b[name], key=fullness)
    earlier = min(a, b, key=lambda row: (row["created_at"], row["step_id"]))
    merged.update({name: earlier[name] for name in PLACE})
    return merged


def fullness(value):
    text = json.dumps(value, sort_keys=True, default=str) if value is not None else ""
    return len(text), text


class SameCalls:
    """The model calls of a batch that report a response already reported, here or in a stored row.

    Made before the fold writes: the stored rows' tasks are in the daily roll-ups' scope (a merged call
    may move to another task). One query, only when the batch has calls with a response id.
    """

    def __init__(self, runs, call_events):
        wanted = defaultdict(set)
        for event in call_events:
            body = event.body
            run = runs.get(body.run_id)
            if run is not None and run.pk is not None and (body.call_id or "").startswith(PREFIX):
                wanted[run.pk].add(body.call_id)
        self.stored = {}
        if wanted:
            ids = set().union(*wanted.values())
            for call in ModelCall.objects.filter(run__in=list(wanted), call_id__in=ids):
                if call.call_id in wanted[call.run_id]:
                    self.stored[(call.run_id, call.call_id)] = call
        self.updates = []
        # Read now: the fold's roll-up scope must be the same before and after the stored rows change.
        self.left_keys = {(call.run_id, call.step_id) for call in self.stored.values() if call.step_id}

    def task_keys(self):
        """(run pk, step id) of the tasks that showed the stored calls before the batch."""
        return self.left_keys

    def merge(self, rows):
        """The batch's call rows with one row per response; those reported before are kept aside for
        update_stored, merged with the stored row."""
        kept, merged = [], {}
        for row in rows:
            if not row["call_id"].startswith(PREFIX):
                kept.append(row)
                continue
            key = (id(row["run"]), row["call_id"])
            merged[key] = {**row, **merge(merged[key], row)} if key in merged else row
        for row in merged.values():
            stored = self.stored.get((row["run"].pk, row["call_id"]))
            if stored is None:
                kept.append(row)
            else:
                self.updates.append((stored, row))
        return kept

    def update_stored(self):
        """Write the merged stored rows (after the batch's tasks are), and give a task the call left
        its totals back: the fold adds up only the tasks that have calls."""
        if not self.updates:
            return
        changed, names, left = [], set(), set()
        for stored, row in self.updates:
            # The task as its id: a stored row's task is not loaded.
            before = {name: getattr(stored, name) for name in MERGED if name != "task"}
            before["task"] = stored.task_id
            ours = {name: row[name] for name in MERGED} | {"task": row["task"] and row["task"].pk}
            for name, value in merge(before, ours).items():
                if value != before[name]:
                    setattr(stored, "task_id" if name == "task" else name, value)
                    names.add(name)
            if stored.task_id != before["task"]:
                left.add(before["task"])
            changed.append(stored)
        if names:
            bulk.update(ModelCall, changed, sorted(names))
        left.discard(None)
        if left:
            Task.objects.filter(pk__in=left).exclude(
                Exists(ModelCall.objects.filter(task=OuterRef("pk")))
            ).update(total_tokens=0, cost=0)
