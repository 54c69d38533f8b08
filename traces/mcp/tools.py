"""The MCP tools: their names, descriptions and argument schemas, over the functions of `reads`.

The arguments of each tool are those of the JSON API route it mirrors, taken from the same form or
pydantic model, so a tool and its route accept and refuse the same values. The tools run on the SDK's
event loop and hand the database work back to the request's thread (sync_to_async), where Django's
connection for the request lives; the request itself, with the key's workspace, arrives in REQUEST.

The SDK is imported when the first call builds the server (`app`), not with the URLs: it takes a second
or two to import, and most processes (tests, commands, workers that serve pages) never answer MCP.
"""

import functools
import inspect
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from asgiref.sync import sync_to_async
from django import forms
from pydantic import Field

from traces.list_api import RunListForm
from traces.reviews import api as reviews_api

from . import reads

# The Django request of the call, set by the transport view for the SDK's handling of it.
REQUEST: ContextVar[Any] = ContextVar("mcp_request")

INSTRUCTIONS = (
    "Read the agent runs, conversations and reviews of the workspace your API key belongs to: find runs "
    "with search_runs, read one with get_run (tasks, turns, errors) or its conversation with "
    "get_conversation; list, file and update QA reviews; export resolved reviews as training JSONL."
)


@dataclass(frozen=True)
class Tool:
    """`read(request, *arguments(given))` as the tool `name` taking `parameters`."""

    read: Any
    name: str
    description: str
    parameters: list
    writes: bool = False
    arguments: Any = lambda given: (given,)


def keyword(name, annotation, default=None, description=None):
    if description:
        annotation = Annotated[annotation, Field(description=description)]
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)


def form_field_type(field):
    """The Python type a form field's value arrives as, for the tool's JSON Schema."""
    if isinstance(field.widget, forms.MultipleHiddenInput):
        return list[str]
    if isinstance(field, forms.BooleanField):
        return bool
    if isinstance(field, forms.IntegerField):
        return int
    if isinstance(field, forms.DecimalField):
        return Decimal
    if isinstance(field, forms.DateField):
        return date
    # The agent's choices come from the data (none here): a plain string, checked when called.
    choices = [key for key, _ in getattr(field, "choices", []) if key]
    if choices:
        return Literal[tuple(choices)]
    return str


def form_parameters(form):
    """Optional keyword parameters, one per field of the form, described by its label and help text."""
    parameters = []
    for name, field in form.fields.items():
        described = " ".join(str(text) for text in (field.label or "", field.help_text or "") if text)
        parameters.append(keyword(name, form_field_type(field) | None, None, described or None))
    return parameters


def model_parameters(model):
    """Keyword parameters, one per field of the pydantic model, with its type, constraints and default."""
    parameters = []
    for name, field in model.model_fields.items():
        annotation = Annotated[(field.annotation, *field.metadata, Field(description=field.description))]
        default = (
            inspect.Parameter.empty if field.is_required() else field.get_default(call_default_factory=True)
        )
        parameters.append(
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)
        )
    return parameters


def given_only(given):
    """The arguments the caller set: a null is an argument left out."""
    return {name: value for name, value in given.items() if value is not None}


def patch_arguments(given):
    """(review_id, the fields to change): those given, and those to clear as null."""
    review_id, cleared = given.pop("review_id"), given.pop("clear")
    return review_id, {**given_only(given), **dict.fromkeys(cleared)}


TOOLS = [
    Tool(
        reads.search_runs,
        "search_runs",
        "Find runs: `q` searches every text a run stored (input, output, errors, tasks, model calls, chat), "
        "the other arguments are the Runs list's filters. A page of runs (id, status, agent, start time, the "
        f"matching snippet), newest first and {reads.RUNS_PAGE} unless `sort` and `limit` say otherwise; "
        "pass `next_cursor` as `cursor` for the next page.",
        form_parameters(RunListForm(None)),
        arguments=lambda given: (given_only(given),),
    ),
    Tool(
        reads.get_run,
        "get_run",
        "A run by its run_id: status, input, output, error, token and cost roll-ups, scores, its tasks in "
        f"order (the first {reads.MAX_TASKS}), its conversation turns and the errors of its tasks.",
        [keyword("run_id", str)],
        arguments=lambda given: (given["run_id"],),
    ),
    Tool(
        reads.get_conversation,
        "get_conversation",
        "A conversation (session) by its session_id, with every turn in order and the run each belongs to.",
        [keyword("session_id", str)],
        arguments=lambda given: (given["session_id"],),
    ),
    Tool(
        reads.list_reviews,
        "list_reviews",
        "QA reviews of runs, filtered and sorted; pass `next_after` as `after` for the next page.",
        model_parameters(reviews_api.ReviewFilters),
    ),
    Tool(
        reads.create_review,
        "create_review",
        "File the review of a run (one per run): a rating, a comment of 10 characters or more, and "
        "optionally a priority, tags, the corrected output, the assistant turn it is about, an assignee and "
        "notes.",
        model_parameters(reviews_api.ReviewIn),
        writes=True,
    ),
    Tool(
        reads.update_review,
        "update_review",
        "Change a review: only the arguments given change; `status` moves it (resolving stamps who and "
        "when). `clear` empties the assignee or the target turn.",
        [
            keyword("review_id", int),
            *[parameter.replace(default=None) for parameter in model_parameters(reviews_api.ReviewPatch)],
            keyword("clear", list[Literal["assignee", "target_message_id"]], [], "Fields to set to null."),
        ],
        writes=True,
        arguments=patch_arguments,
    ),
    Tool(
        reads.export_reviews,
        "export_reviews",
        "Resolved reviews as OpenAI chat fine-tuning examples, one JSON line each (the JSONL of "
        f"/api/v1/reviews/export), oldest first, at most {reads.MAX_EXAMPLES}; `complete` says whether that "
        "was all of them.",
        model_parameters(reviews_api.ExportFilters),
    ),
]


@functools.cache
def app_factory():
    """The SDK's server with every tool, and a function building its streamable HTTP app (one per
    request: see transport)."""
    from mcp.server import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.server.transport_security import TransportSecuritySettings
    from mcp_types import ToolAnnotations

    server = MCPServer("Backoffice", instructions=INSTRUCTIONS)
    for tool in TOOLS:
        server.add_tool(
            sdk_call(tool, ToolError),
            name=tool.name,
            description=tool.description,
            annotations=ToolAnnotations(
                read_only_hint=not tool.writes, destructive_hint=False, open_world_hint=False
            ),
        )
    # The key check (Bearer, no cookies) is what keeps a page of another site from using the endpoint,
    # and Django's ALLOWED_HOSTS checks the Host: the SDK's Host and Origin allow-list would repeat them.
    security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    return lambda path: server.streamable_http_app(
        streamable_http_path=path, json_response=True, stateless_http=True, transport_security=security
    )


def sdk_call(tool, tool_error):
    """The coroutine the SDK calls: the tool's read on the request's thread; a Refused becomes the
    SDK's ToolError, which the caller reads as a tool error."""
    read = sync_to_async(tool.read)

    async def call(**given):
        try:
            return await read(REQUEST.get(), *tool.arguments(given))
        except reads.Refused as exc:
            raise tool_error(str(exc)) from None

    call.__name__ = tool.name
    call.__signature__ = inspect.Signature(tool.parameters, return_annotation=dict[str, Any])
    return call
