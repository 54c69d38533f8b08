"""What the MCP tools read and write, in the workspace of the key that called them: functions of the
request (its key and workspace, put there by the key check) over the same queries, forms and rules as
the pages and the JSON API, returning JSON-ready dicts.

A bad argument raises Refused, whose message starts with the field it is about, as the API's 4xx
answers name theirs (the tools hand it to the caller as a tool error).
"""

import json
import re
from html import unescape

from django.db.models import Count
from django.http import Http404
from pydantic import ValidationError

from backoffice import audit
from backoffice.api_lists import form_problem
from backoffice.api_rendering import PreciseEncoder
from traces.api import TaskOut, message_out, run_out, session_out
from traces.list_api import RunListForm, workspace_agents
from traces.models import ChatMessage, Run, Session, Task
from traces.reviews import api as reviews_api
from traces.reviews import tickets
from traces.reviews.export import jsonl, training_examples
from traces.reviews.queries import filter_reviews, page_of, parse_cursor, reviews_in
from traces.run_filters import matching
from traces.search.query import matching as documents_matching
from traces.search.text import snippet, terms

# A run's tasks and turns past these are left out (the counts say how many there are): an agent reads
# the answer whole, and the JSON API pages the rest.
MAX_TASKS = 200
MAX_TURNS = 200
# Runs a search_runs page holds unless `limit` says otherwise (up to the list API's 1,000): a page an
# agent reads whole.
RUNS_PAGE = 20
# Training examples one export_reviews call returns at most; the JSON API's export streams them all.
MAX_EXAMPLES = 500
MARK = re.compile(r"</?mark>")


class Refused(ValueError):
    """A call the tool cannot answer as asked: "field: what is wrong"."""


def plain(value):
    """JSON types only, written as the JSON API writes them (microsecond times, plain decimals)."""
    return json.loads(json.dumps(value, cls=PreciseEncoder))


def problem(field, message):
    return Refused(f"{field}: {message}")


def validation_problem(exc):
    """The first error of a pydantic ValidationError, as `field: message`."""
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"]) or "arguments"
    return problem(field, error["msg"])


def marked_text(html):
    """A search snippet for a reader of plain text: matches in **bold**, entities decoded."""
    return unescape(MARK.sub("**", html))


def search_runs(request, filters):
    """A page of the runs the Runs list's filters select (`filters` holds those given), newest first
    unless `sort` says otherwise, as on the Runs page.
    With `q`, each run carries the snippet of a text of it that matched."""
    workspace = request.workspace
    agents = workspace_agents(request)
    form = RunListForm({"limit": RUNS_PAGE, "sort": "-time", **filters}, agents)
    if not form.is_valid():
        raise Refused(form_problem(form)["detail"])
    data = form.cleaned_data
    fields = ("id", "run_id", "status", "agent__agent_id", "workflow", "started_at", "error")
    page = form.keyset.page(
        matching(workspace, form, agents).values(*fields), after=data["cursor"], size=data["limit"]
    )
    snippets = matched_snippets(workspace, data.get("q"), [row["id"] for row in page.rows])
    items = [
        {
            "run_id": row["run_id"],
            "status": row["status"],
            "agent_id": row["agent__agent_id"],
            "workflow": row["workflow"],
            "started_at": row["started_at"],
            "has_error": row["error"] is not None,
            "snippet": snippets.get(row["id"]),
        }
        for row in page.rows
    ]
    return plain({"items": items, "next_cursor": page.next})


def matched_snippets(workspace, q, run_pks):
    """{run pk: snippet of its latest matching text}: one query for the page."""
    if not q or not run_pks:
        return {}
    documents = documents_matching(workspace, q).filter(run__in=run_pks).order_by("run", "-at")
    found = {}
    for run_pk, text in documents.values_list("run", "text"):
        found.setdefault(run_pk, marked_text(snippet(text, terms(q))))
    return found


def get_run(request, run_id):
    """A run as the JSON API reads it, with its first MAX_TASKS tasks, its turns and its errors."""
    runs = Run.objects.filter(workspace=request.workspace).select_related("session", "agent")
    run = runs.annotate(task_count=Count("tasks")).filter(run_id=run_id).first()
    if run is None:
        raise problem("run_id", f"no run {run_id!r} in this workspace")
    tasks = list(
        Task.objects.filter(run=run)
        .select_related("parent")
        .order_by("sequence", "id")
        .only(*TASK_COLUMNS, "parent_step_id", "parent__step_id")[:MAX_TASKS]
    )
    turns = ChatMessage.objects.filter(run=run).select_related("run").order_by("sequence", "id")
    errors = Task.objects.filter(run=run, error__isnull=False).order_by("sequence", "id")
    answer = run_out(run)
    answer["tasks"] = [task_out(task) for task in tasks]
    answer["turns"] = [message_out(message) for message in turns[:MAX_TURNS]]
    answer["errors"] = [
        {"step_id": step_id, "name": name, "status": status, "error": error}
        for step_id, name, status, error in errors.values_list("step_id", "name", "status", "error")[
            :MAX_TASKS
        ]
    ]
    return plain(answer)


TASK_COLUMNS = tuple(name for name in TaskOut.model_fields if name != "parent_id")


def task_out(task):
    return {
        **{name: getattr(task, name) for name in TASK_COLUMNS},
        "parent_id": (task.parent.step_id if task.parent else None) or task.parent_step_id or None,
    }


def get_conversation(request, session_id):
    sessions = Session.objects.filter(workspace=request.workspace).select_related("agent")
    session = sessions.filter(session_id=session_id).first()
    if session is None:
        raise problem("session_id", f"no conversation {session_id!r} in this workspace")
    return plain(session_out(session))


def list_reviews(request, filters):
    """A page of reviews with the filters and sorts of GET /api/v1/reviews."""
    try:
        data = reviews_api.ReviewFilters(**filters).dict()
    except ValidationError as exc:
        raise validation_problem(exc) from None
    cursor = None
    if data["after"]:
        try:
            cursor = parse_cursor(data["after"], data["sort"])
        except ValueError:
            raise problem("after", "not a page of this list and sort") from None
    found = filter_reviews(reviews_in(request.workspace).select_related("target_message"), data)
    rows, next_after = page_of(found, data["sort"], cursor, size=data["limit"])
    return plain({"items": [reviews_api.review_out(review) for review in rows], "next_after": next_after})


def create_review(request, fields):
    """File a review with the rules of POST /api/v1/reviews."""
    try:
        payload = reviews_api.ReviewIn(**fields)
        review = reviews_api.file_from(request.workspace, payload, reviews_api.actor(request))
    except ValidationError as exc:
        raise validation_problem(exc) from None
    except Http404:
        raise problem("run_id", f"no run {fields['run_id']!r} in this workspace") from None
    except tickets.AlreadyReviewed as exc:
        raise problem("run_id", f"{exc}: update that one instead") from None
    except tickets.ReviewError as exc:
        raise review_problem(exc) from None
    return review_detail(review)


def update_review(request, review_id, fields):
    """Change a review with the rules of PATCH /api/v1/reviews/{id}: only the fields given change."""
    try:
        payload = reviews_api.ReviewPatch(**fields)
        review = reviews_api.patch_from(request.workspace, review_id, payload, reviews_api.actor(request))
    except ValidationError as exc:
        raise validation_problem(exc) from None
    except Http404:
        raise problem("review_id", f"no review {review_id} in this workspace") from None
    except tickets.ReviewError as exc:
        raise review_problem(exc) from None
    return review_detail(review)


def review_detail(review):
    """A review with its activity, as the API's ReviewDetailOut writes it."""
    return reviews_api.ReviewDetailOut.model_validate(reviews_api.detail_out(review)).model_dump(mode="json")


def review_problem(exc):
    return Refused(reviews_api.problem_of(exc)[1])


def export_reviews(request, filters):
    """The resolved reviews as fine-tuning JSONL lines (GET /api/v1/reviews/export), at most
    MAX_EXAMPLES of them; noted in the audit log as the API's export is."""
    try:
        data = reviews_api.ExportFilters(**filters).dict()
    except ValidationError as exc:
        raise validation_problem(exc) from None
    workspace = request.workspace
    audit.record(request, "reviews.exported", workspace.name, {"mcp": plain(filters)})
    lines = []
    for line in jsonl(training_examples(filter_reviews(reviews_in(workspace), data))):
        if len(lines) == MAX_EXAMPLES:
            return {"lines": lines, "complete": False}
        lines.append(line.rstrip("\n"))
    return {"lines": lines, "complete": True}
