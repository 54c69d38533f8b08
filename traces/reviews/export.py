"""Resolved reviews as fine-tuning data: one OpenAI chat example per line (JSONL).

What an example holds is `examples`' business; this module reads the reviews in chunks and streams.
"""

import json

from django.http import StreamingHttpResponse
from django.utils import timezone

from backoffice import audit
from traces.models import ReviewStatus

from .examples import example, records
from .queries import page_of, parse_cursor

CHUNK = 200


def chunks(reviews):
    """(chunk of reviews, their Records), oldest first.

    Reads CHUNK reviews at a time and what their examples are made of in three more queries, so
    memory holds one chunk however many reviews there are.
    """
    reviews = reviews.select_related("run")
    cursor = None
    while True:
        chunk, next_after = page_of(reviews, "oldest", cursor, size=CHUNK)
        yield chunk, records([review.run for review in chunk])
        if next_after is None:
            return
        cursor = parse_cursor(next_after, "oldest")


def training_examples(reviews):
    """Examples of the resolved reviews among `reviews`, oldest first; a review with no reply is
    skipped: it teaches nothing."""
    for chunk, found in chunks(reviews.filter(status=ReviewStatus.RESOLVED)):
        for review in chunk:
            made = example(review, found)
            if made:
                yield made


def jsonl(items):
    for item in items:
        yield json.dumps(item, ensure_ascii=False) + "\n"


def download(lines, content_type, name):
    response = StreamingHttpResponse(lines, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def download_name(kind, workspace, extension):
    return f"{kind}-{workspace.slug}-{timezone.now():%Y%m%d-%H%M}.{extension}"


def export_response(request, queryset):
    """A JSONL download, streamed chunk by chunk (see chunks), noted in the audit log with the filters
    it was asked with."""
    workspace = request.workspace
    audit.record(request, "reviews.exported", workspace.name, {"query": request.META.get("QUERY_STRING", "")})
    return download(
        jsonl(training_examples(queryset)), "application/jsonl", download_name("reviews", workspace, "jsonl")
    )
