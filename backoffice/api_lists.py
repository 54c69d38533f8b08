"""The list and export routes of the JSON API: their query parameters come from the same Django forms as
the pages' filters, so a filter means the same thing on a page, in a list and in an export.

A list answers `{"items": [...], "next_cursor": "..."}`, one keyset page at a time (never OFFSET); an
export streams every page of the same query as JSON Lines or CSV, reading one page at a time, so its
memory stays that of one page however many rows match.
"""

import csv
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.core.validators import RegexValidator
from django.http import StreamingHttpResponse
from ninja.responses import Status
from pydantic import create_model

from traces.keyset import Keyset

from .api_errors import problems
from .api_rendering import PreciseEncoder, json_response

# Rows of a list answer: `limit` defaults to DEFAULT_LIMIT and may go up to MAX_LIMIT.
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# Rows an export reads per query.
EXPORT_PAGE = 1000
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection): such a text
# cell is written with a leading apostrophe, which spreadsheets show as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# Ingest order: an immutable key, so a client paging while rows arrive sees each row that existed when it
# started once, and the rows created since at the end.
INGEST_ORDER = Keyset("id", descending=False, kind="int")
# The cursor of a list in ingest order: "<id>.<id>" (a keyset cursor whose key is the id).
ID_CURSOR = RegexValidator(r"^\d{1,20}\.\d{1,20}$", "Not a cursor: pass the next_cursor of a page.")


class ApiListForm(forms.Form):
    """What every list route takes besides its filters: where the page starts and how long it is.

    Subclasses put it first among their bases, before the page's filter form: `__init__(data, agents)`
    passes the agents on to forms that take them."""

    limit = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_LIMIT, help_text=f"Rows per page, at most {MAX_LIMIT}."
    )
    cursor = forms.CharField(
        required=False, max_length=60, help_text="The next_cursor of the page before; absent for the first."
    )
    # The pages' own parameters: their cursors (the API has `cursor` instead) and columns.
    page_only = ("after", "before", "col")
    cursor_validators = (ID_CURSOR,)
    takes_agents = False

    def __init__(self, data, agents=()):
        if self.takes_agents:
            super().__init__(data, agents)
        else:
            super().__init__(data)
        for name in self.page_only:
            self.fields.pop(name, None)
        self.fields["cursor"].validators = list(self.cursor_validators)

    @property
    def keyset(self):
        """The ordering of the list: ingest order, unless the filter form offers a sort."""
        return getattr(super(), "keyset", INGEST_ORDER)

    def clean_limit(self):
        return self.cleaned_data["limit"] or DEFAULT_LIMIT


def form_problem(form):
    """The API's 400 Problem for an invalid form: every bad parameter, the first one named."""
    listed = [
        {"field": name if name != "__all__" else "query", "detail": str(error)}
        for name, errors in form.errors.items()
        for error in errors
    ]
    first = listed[0]
    return {"detail": f"{first['field']}: {first['detail']}", "field": first["field"], "errors": listed}


def parameter_schema(field):
    if isinstance(field, forms.MultipleChoiceField):
        return {"type": "array", "items": {"type": "string", "enum": [key for key, _ in field.choices]}}
    if isinstance(field.widget, forms.MultipleHiddenInput):
        return {"type": "array", "items": {"type": "string", "maxLength": field.max_length}}
    if isinstance(field, forms.BooleanField):
        return {"type": "boolean"}
    if isinstance(field, forms.IntegerField):
        return {"type": "integer", "minimum": field.min_value, "maximum": field.max_value}
    if isinstance(field, forms.DecimalField):
        return {"type": "string", "format": "decimal", "pattern": r"^\d+(\.\d+)?$"}
    if isinstance(field, forms.DateField):
        return {"type": "string", "format": "date"}
    choices = [key for key, _ in getattr(field, "choices", []) if key]
    if choices:  # the agent's choices come from the data: a plain string
        return {"type": "string", "enum": choices}
    return {"type": "string", "maxLength": getattr(field, "max_length", None)}


def form_parameters(form):
    """The OpenAPI query parameters of a form's fields, for `openapi_extra={"parameters": …}`."""
    parameters = []
    for name, field in form.fields.items():
        schema = {key: value for key, value in parameter_schema(field).items() if value is not None}
        description = " ".join(str(text) for text in (field.label or "", field.help_text or "") if text)
        parameter = {"name": name, "in": "query", "required": False, "schema": schema}
        if description:
            parameter["description"] = description
        if schema["type"] == "array":
            parameter |= {"style": "form", "explode": True}
        parameters.append(parameter)
    return {"parameters": parameters}


def items_of(rows, fields):
    """Output items from `values()` rows: each output name (`fields` maps it to its column path)."""
    return [{name: row[path] for name, path in fields.items()} for row in rows]


def list_answer(request, rows, fields, next_cursor):
    return json_response(request, {"items": items_of(rows, fields), "next_cursor": next_cursor})


def guarded(value):
    """A CSV cell: JSON text for lists and objects, text that cannot start a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)  # a number is data, never a formula, even when negative
    if isinstance(value, datetime | Decimal):
        return PreciseEncoder().default(value)
    if not isinstance(value, str):
        value = json.dumps(value, cls=PreciseEncoder, ensure_ascii=False)
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


class Echo:
    """A file-like object whose write returns the line, for csv.writer in a generator."""

    def write(self, value):
        return value


def export_answer(pages, fields, export_format, filename):
    """A streamed export: `pages` yields lists of `values()` rows, one query each."""
    if export_format == "csv":
        writer = csv.writer(Echo())

        def lines():
            yield writer.writerow(list(fields))
            for rows in pages:
                for row in rows:
                    yield writer.writerow([guarded(row[path]) for path in fields.values()])

        content_type = "text/csv; charset=utf-8"
    else:

        def lines():
            for rows in pages:
                for item in items_of(rows, fields):
                    yield json.dumps(item, cls=PreciseEncoder, ensure_ascii=False) + "\n"

        content_type = "application/x-ndjson; charset=utf-8"
    response = StreamingHttpResponse(lines(), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}.{export_format}"'
    return response


class ExportForm(forms.Form):
    format = forms.ChoiceField(
        required=False,
        choices=[("jsonl", "JSON Lines"), ("csv", "CSV")],
        help_text="jsonl (the default) or csv.",
    )

    def clean_format(self):
        return self.cleaned_data["format"] or "jsonl"


class Listing:
    """One list route and its export: the form of its filters (an ApiListForm, which orders the rows
    through its `keyset`), `query(request, form, agents)` giving the rows, and the item's fields
    (output name → `values()` path). `agents(request)` reads what the form's choices need."""

    def __init__(self, path, form_class, query, item, *, summary, agents=lambda request: []):
        self.path = path
        self.form_class = form_class
        self.query = query
        self.item = item
        self.summary = summary
        self.agents = agents

    def bind(self, request):
        agents = self.agents(request)
        return self.form_class(request.GET, agents), agents

    def rows(self, request, form, agents):
        return self.query(request, form, agents).values("id", *self.item.values())

    def list(self, request):
        form, agents = self.bind(request)
        if not form.is_valid():
            return Status(400, form_problem(form))
        data = form.cleaned_data
        rows = self.rows(request, form, agents)
        page = form.keyset.page(rows, after=data["cursor"], size=data["limit"])
        return list_answer(request, page.rows, self.item, page.next)

    def export(self, request):
        form, agents = self.bind(request)
        chosen = ExportForm(request.GET)
        for checked in (form, chosen):
            if not checked.is_valid():
                return Status(400, form_problem(checked))
        rows, keyset = self.rows(request, form, agents), form.keyset

        def pages():
            cursor = form.cleaned_data["cursor"]
            while True:
                page = keyset.page(rows, after=cursor, size=EXPORT_PAGE)
                yield page.rows
                if page.next is None:
                    return
                cursor = page.next

        return export_answer(pages(), self.item, chosen.cleaned_data["format"], self.path)

    def register(self, router):
        """Adds GET /<path> and GET /export/<path> to the router, documented from the form."""
        listed = form_parameters(self.form_class(None, []))["parameters"]
        name = self.path.replace("-", "_")
        title = "".join(part.title() for part in self.path.split("-"))
        item = create_model(f"{title}Item", **dict.fromkeys(self.item, (Any, ...)))
        page = create_model(f"{title}Page", items=(list[item], ...), next_cursor=(str | None, ...))
        router.get(
            f"/{self.path}",
            response={200: page, **problems()},
            summary=f"List {self.summary.lower()}",
            description=(
                f"{self.summary} with the filters of their page, a page at a time: pass `next_cursor` "
                "as `cursor` for the next page; it is null on the last one."
            ),
            openapi_extra={"parameters": listed},
            operation_id=f"{name}_list",
        )(lambda request: self.list(request))
        exported = [p for p in listed if p["name"] != "limit"] + form_parameters(ExportForm())["parameters"]
        router.get(
            f"/export/{self.path}",
            response=problems(),
            summary=f"Export {self.summary.lower()}",
            description=(
                f"All the {self.summary.lower()} the same filters list, streamed as JSON Lines (one item a "
                "line) or CSV (a header line; objects and lists as JSON; a text a spreadsheet would run "
                "as a formula starts with an apostrophe)."
            ),
            openapi_extra={"parameters": exported},
            operation_id=f"{name}_export",
        )(lambda request: self.export(request))
