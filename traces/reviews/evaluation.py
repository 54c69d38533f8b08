"""A reviewed set as an evaluation dataset, in JSONL or CSV: per review, what the agent was given
(the conversation up to the reviewed reply, as `examples` builds it), what it should answer (the
corrected output, else the reply the review accepted), what it answered, the review's verdict and
the run's scores (from every reviewer, the API, SDKs and judges).

Streamed chunk by chunk like the training export, oldest review first. The CSV is for spreadsheets,
so a cell that a spreadsheet would read as a formula is written as text.
"""

import csv
import json
from collections import defaultdict

from backoffice import audit
from backoffice.api_lists import Echo, guarded
from traces.models import Score, ScoreDataType

from .examples import exchange
from .export import chunks, download, download_name, jsonl

CONTENT_TYPES = {"jsonl": "application/jsonl", "csv": "text/csv; charset=utf-8"}
COLUMNS = (
    "review_id",
    "run_id",
    "agent_id",
    "status",
    "rating",
    "tags",
    "comment",
    "resolution_notes",
    "action_taken",
    "was_corrected",
    "last_user_message",
    "input",
    "output",
    "expected_output",
    "scores",
)


def score_value(score):
    """A score's value as JSON: the number, the label, or true/false."""
    if score["data_type"] == ScoreDataType.NUMERIC:
        return score["value"]
    if score["data_type"] == ScoreDataType.BOOLEAN:
        return score["string_value"] == "true"
    return score["string_value"]


def scores_of(runs):
    """{run pk: [score as JSON]} of these runs, in name order. One query."""
    found = defaultdict(list)
    fields = ("run_id", "name", "data_type", "value", "string_value", "source", "author", "comment")
    for score in Score.objects.filter(run__in=runs).order_by("run_id", "name", "id").values(*fields):
        found[score["run_id"]].append(
            {
                "name": score["name"],
                "value": score_value(score),
                "data_type": score["data_type"],
                "source": score["source"],
                "author": score["author"],
                "comment": score["comment"],
            }
        )
    return found


def item(review, found, scores=()):
    """One review as an evaluation item, with its run's `scores`."""
    messages, reply = exchange(review, found)
    output = reply.content if reply else None
    corrected = review.corrected_output
    run = review.run
    return {
        "input": [message.as_dict() for message in messages],
        "expected_output": corrected if corrected.strip() else output,
        "output": output,
        "review": {
            "id": review.pk,
            "run_id": run.run_id,
            "agent_id": run.agent.agent_id if run.agent else None,
            "status": review.status,
            "rating": review.rating or None,
            "tags": review.tags,
            "comment": review.comment,
            "resolution_notes": review.resolution_notes,
            "action_taken": review.action_taken,
            "was_corrected": bool(corrected),
        },
        "scores": list(scores),
    }


def items(reviews):
    for chunk, found in chunks(reviews.select_related("run__agent")):
        scores = scores_of([review.run_id for review in chunk])
        for review in chunk:
            yield item(review, found, scores.get(review.run_id, ()))


def row(found):
    review = found["review"]
    said = [m["content"] for m in found["input"] if m["role"] == "user"]
    cells = {
        **{name: review[name] for name in COLUMNS if name in review},
        "review_id": review["id"],
        "tags": ", ".join(review["tags"]),
        "was_corrected": "yes" if review["was_corrected"] else "no",
        "last_user_message": said[-1] if said else "",
        "input": json.dumps(found["input"], ensure_ascii=False),
        "output": found["output"],
        "expected_output": found["expected_output"],
        "scores": "; ".join(f"{score['name']}={plain(score['value'])}" for score in found["scores"]),
    }
    return [guarded(cells[name]) for name in COLUMNS]


def plain(value):
    """A score value as a spreadsheet cell reads it: 4 rather than 4.0, true rather than True."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return value


def csv_lines(found):
    writer = csv.writer(Echo())
    yield writer.writerow(COLUMNS)
    for each in found:
        yield writer.writerow(row(each))


def evaluation_response(request, queryset, file_format):
    """The reviews of `queryset` as an evaluation dataset download, `file_format` "jsonl" or "csv",
    noted in the audit log like every export of data."""
    workspace = request.workspace
    audit.record(
        request,
        "reviews.evaluation_exported",
        workspace.name,
        {"query": request.META.get("QUERY_STRING", "")},
    )
    found = items(queryset)
    lines = csv_lines(found) if file_format == "csv" else jsonl(found)
    name = download_name("evaluation", workspace, file_format)
    return download(lines, CONTENT_TYPES[file_format], name)
