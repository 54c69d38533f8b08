"""Resolved reviews as fine-tuning data: one OpenAI chat example per line (JSONL).

An example is the run's conversation (system, user, assistant and tool turns). When the review
carries a corrected output, it replaces the assistant turn it corrects (the targeted one, else the
run's last reply) and the example ends there: later turns answered the reply that was wrong.
A run without chat turns is read as its input (user) and output (assistant). A review that leaves
no assistant turn is skipped: it teaches nothing.
"""

import json

from django.http import StreamingHttpResponse
from django.utils import timezone

from traces.models import ChatMessage, ChatRole, ReviewStatus

from .queries import page_of, parse_cursor
from .tickets import turn_text

CHUNK = 200
TRAINING_ROLES = (ChatRole.SYSTEM, ChatRole.USER, ChatRole.ASSISTANT, ChatRole.TOOL)


def training_message(message):
    entry = {"role": message.role, "content": turn_text(message.content)}
    extra = message.metadata or {}
    # Tool turns only make sense to a trainer when they are tied to the call that asked for them.
    if message.role == ChatRole.ASSISTANT and isinstance(extra.get("tool_calls"), list):
        entry["tool_calls"] = extra["tool_calls"]
    if message.role == ChatRole.TOOL and isinstance(extra.get("tool_call_id"), str):
        entry["tool_call_id"] = extra["tool_call_id"]
    return entry


def run_as_turns(run):
    turns = []
    if run.input is not None:
        turns.append((None, {"role": ChatRole.USER.value, "content": turn_text(run.input)}))
    if run.output is not None:
        turns.append((None, {"role": ChatRole.ASSISTANT.value, "content": turn_text(run.output)}))
    return turns


def example(review, messages):
    """The training example of one review, given its run's turns in order; None when it has no reply."""
    turns = [(m.pk, training_message(m)) for m in messages if m.role in TRAINING_ROLES]
    turns = turns or run_as_turns(review.run)
    corrected = review.corrected_output
    if corrected:
        replies = [i for i, (pk, turn) in enumerate(turns) if turn["role"] == ChatRole.ASSISTANT]
        targeted = [i for i in replies if turns[i][0] == review.target_message_id]
        cut = (targeted or replies or [len(turns)])[-1]
        turns = [*turns[:cut], (None, {"role": ChatRole.ASSISTANT.value, "content": corrected})]
    if not any(turn["role"] == ChatRole.ASSISTANT for _, turn in turns):
        return None
    return {
        "messages": [turn for _, turn in turns],
        "metadata": {
            "review_id": review.pk,
            "run_id": review.run.run_id,
            "rating": review.rating,
            "was_corrected": bool(corrected),
        },
    }


def training_examples(reviews):
    """Examples of the resolved reviews among `reviews`, oldest first.

    Reads CHUNK reviews at a time, with their turns in one more query, so memory holds one chunk
    however many reviews there are.
    """
    reviews = reviews.filter(status=ReviewStatus.RESOLVED).select_related("run")
    cursor = None
    while True:
        chunk, next_after = page_of(reviews, "oldest", cursor, size=CHUNK)
        by_run = {}
        turns = ChatMessage.objects.filter(run__in=[review.run_id for review in chunk]).order_by(
            "run", "sequence", "id"
        )
        for message in turns:
            by_run.setdefault(message.run_id, []).append(message)
        for review in chunk:
            found = example(review, by_run.get(review.run_id, []))
            if found:
                yield found
        if next_after is None:
            return
        cursor = parse_cursor(next_after, "oldest")


def jsonl(examples):
    for found in examples:
        yield json.dumps(found, ensure_ascii=False) + "\n"


def export_response(queryset, workspace):
    """A JSONL download, streamed chunk by chunk (see training_examples)."""
    response = StreamingHttpResponse(jsonl(training_examples(queryset)), content_type="application/jsonl")
    name = f"reviews-{workspace.slug}-{timezone.now():%Y%m%d-%H%M}.jsonl"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
