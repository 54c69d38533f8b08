"""manage.py logs: a run's (or a conversation's) event stream on the terminal, optionally followed live."""

import contextlib
import json
import time

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Max

from traces.keyset import past
from traces.models import ChatMessage, ChatRole, Event, Run, RunStatus, Session, Task
from traces.playback import ERRORS, turn_window

PAGE = 500
PREVIEW_CHARS = 120
LIVE = (RunStatus.RUNNING, RunStatus.PAUSED)
# Events that open a step name it; the lines of the step's other events reuse that name. Steps stored
# before the command starts are named from their tasks, so a filter that hides the opening event
# (--errors, --kind, --turn, --tail) still prints names; these name the steps that open while following.
NAMING = {"step.start": "name", "tool.call": "tool", "log": "name", "gate.waiting": "name"}


class Command(BaseCommand):
    help = (
        "Print a run's events in order, one line each, prefixed with the run's 8-character invocation id. "
        "--follow keeps printing new events until interrupted (with --until-done, until the run ends)."
    )

    def add_arguments(self, parser):
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--run", metavar="RUN_ID", help="the run's id")
        target.add_argument("--session", metavar="SESSION_ID", help="every run of this conversation")
        parser.add_argument("--workspace", metavar="SLUG", help="when the id exists in several workspaces")
        parser.add_argument("--follow", "-f", action="store_true", help="keep printing new events")
        parser.add_argument("--until-done", action="store_true", help="follow until the run has ended")
        parser.add_argument("--errors", action="store_true", help="only failures and error logs")
        parser.add_argument("--kind", metavar="PREFIX", help="only event types starting so: step, llm.call…")
        parser.add_argument(
            "--turn",
            type=int,
            metavar="N",
            help="only the N-th turn of the conversation (1 is the first): from its user message, or "
            "the start of the run that message began, up to the next turn",
        )
        parser.add_argument("--tail", type=int, metavar="N", help="only the last N events (then follow)")
        parser.add_argument("--json", action="store_true", help="one JSON object per line")
        parser.add_argument(
            "--interval", type=float, default=1.0, help="seconds between polls when following"
        )

    def handle(self, *args, **options):
        if options["interval"] <= 0:
            raise CommandError("--interval must be more than 0 seconds")
        for name in ("turn", "tail"):
            if options[name] is not None and options[name] < 1:
                raise CommandError(f"--{name} must be 1 or more")
        self.as_json = options["json"]
        events, finished = self.target(options)
        self.names = step_names(events)
        if options["turn"] is not None:
            events = events.filter(self.turn(options))
        if options["kind"]:
            events = events.filter(type__startswith=options["kind"])
        if options["errors"]:
            events = events.filter(ERRORS)
        events = events.select_related("run").only(
            "event_id", "type", "step_id", "timestamp", "payload", "run__run_id", "run__invocation_id"
        )
        # Events are numbered in commit order within a workspace (ingest folds one workspace's batches
        # one at a time), so "id above the last seen" finds every newcomer, even one whose timestamp
        # is older than events already printed.
        last_id = events.aggregate(last=Max("id"))["last"] or 0
        self.print_history(events.filter(id__lte=last_id), options["tail"])
        if options["follow"] or options["until_done"]:
            with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how following ends
                self.follow(events, last_id, finished if options["until_done"] else None, options["interval"])

    def target(self, options):
        """The events to show, and a function telling whether their run(s) ended. Hits the database."""
        if options["run"]:
            run = self.one(Run.objects.filter(run_id=options["run"]), "run", options)
            self.session_pk = run.session_id
            return Event.objects.filter(
                run=run
            ), lambda: not Run.objects.filter(pk=run.pk, status__in=LIVE).exists()
        session = self.one(Session.objects.filter(session_id=options["session"]), "session", options)
        self.session_pk = session.pk
        runs = Run.objects.filter(session=session)
        return Event.objects.filter(
            run__session=session
        ), lambda: runs.exists() and not runs.filter(status__in=LIVE).exists()

    def one(self, rows, noun, options):
        identifier = options[noun]
        if options["workspace"]:
            rows = rows.filter(workspace__slug=options["workspace"])
        found = list(rows.select_related("workspace")[:2])
        where = f" in workspace {options['workspace']!r}" if options["workspace"] else ""
        if not found:
            raise CommandError(f"No {noun} with id {identifier!r}{where}")
        if len(found) > 1:
            raise CommandError(
                f"The {noun} id {identifier!r} is in several workspaces: pass --workspace SLUG"
            )
        return found[0]

    def turn(self, options):
        """The time range of the conversation's N-th turn, as a filter. Hits the database."""
        number = options["turn"]
        if self.session_pk is None:
            raise CommandError(f"--turn: run {options['run']!r} is not part of a conversation")
        window = turn_window(self.session_pk, number)
        if window is None:
            turns = ChatMessage.objects.filter(session_id=self.session_pk, role=ChatRole.USER).count()
            raise CommandError(f"--turn: the conversation has {turns} turn(s), not {number}")
        return window

    def print_history(self, events, tail=None):
        """Everything up to now in (timestamp, id) order, a page at a time; with `tail`, its last events."""
        if tail:
            self.write(reversed(list(events.order_by("-timestamp", "-id")[:tail])))
            return
        page = list(events.order_by("timestamp", "id")[:PAGE])
        while page:
            self.write(page)
            last = page[-1]
            after = past("timestamp", last.timestamp, last.id, later=True)
            page = list(events.filter(after).order_by("timestamp", "id")[:PAGE]) if len(page) == PAGE else []

    def follow(self, events, last_id, finished, interval):
        while True:
            # Checked before reading: a run's end commits with its last events, so they are read below.
            done = finished is not None and finished()
            while True:
                page = list(events.filter(id__gt=last_id).order_by("id")[:PAGE])
                if not page:
                    break
                last_id = page[-1].id
                self.write(sorted(page, key=lambda e: (e.timestamp, e.id)))
            if done:
                return
            time.sleep(interval)

    def write(self, events):
        for event in events:
            name_field = NAMING.get(event.type)
            if name_field and event.step_id and event.payload.get(name_field):
                self.names[event.run_id, event.step_id] = str(event.payload[name_field])
            self.stdout.write(self.as_record(event) if self.as_json else self.as_line(event))
        self.stdout.flush()

    def as_record(self, event):
        return json.dumps(
            {
                "invocation_id": event.run.invocation_id,
                "run_id": event.run.run_id,
                "event_id": event.event_id,
                "type": event.type,
                "timestamp": event.timestamp.isoformat(),
                "step_id": event.step_id,
                "payload": event.payload,
            },
            ensure_ascii=False,
        )

    def as_line(self, event):
        at = event.timestamp.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        summary = one_line(summarize(event, RunSteps(self.names, event.run_id)))
        return f"{event.run.invocation_id} {at} {event.type:<16} {summary}".rstrip()


def step_names(events):
    """{(run pk, step id): name} of the steps of these events' runs, from their tasks. One query."""
    tasks = Task.objects.filter(run__in=events.values("run")).exclude(name="")
    return {(run, step): name for run, step, name in tasks.values_list("run", "step_id", "name")}


class RunSteps:
    """The step names of one run, looked up by step id like a dict (step ids are unique per run)."""

    def __init__(self, names, run):
        self.names, self.run = names, run

    def get(self, step_id, default=None):
        return self.names.get((self.run, step_id), default)


def summarize(event, names):
    """What an operator wants to read on one line for each event type; steps by name when known."""
    body = event.payload
    kind = event.type
    step = names.get(event.step_id, event.step_id)
    if kind == "run.start":
        parts = [body.get("workflow") or "run", f"agent={body.get('agent_id')}"]
        if body.get("session_id"):
            parts.append(f"session={body['session_id']}")
        return " ".join(parts) + field_preview(" input=", body.get("input"))
    if kind == "run.complete":
        return field_preview("output=", body.get("output"))
    if kind in ("run.failed", "step.failed", "tool.failed"):
        return f"{'' if kind == 'run.failed' else step + ' '}error={preview(error_text(body.get('error')))}"
    if kind in ("run.paused", "run.resumed"):
        return body.get("reason") or ""
    if kind == "state.checkpoint":
        return (
            f"trace={' → '.join(body['trace'])}"
            if body.get("trace")
            else field_preview("state=", body.get("state"))
        )
    if kind == "step.start":
        parent = f" under {names.get(body['parent_id'], body['parent_id'])}" if body.get("parent_id") else ""
        return f"{body.get('name')} [{body.get('type') or 'function'}]{parent}"
    if kind in ("step.ok", "tool.ok"):
        return step + field_preview(" → ", body.get("output", body.get("result")))
    if kind == "tool.call":
        return f"{body.get('tool')}{field_preview(' args=', body.get('args'))}"
    if kind == "llm.call":
        return model_call_line(body)
    if kind == "message":
        return f"{body.get('role')}: {preview(body.get('content'))}"
    if kind == "track":
        return f"{body.get('name')} {preview(body.get('properties') or {})}"
    if kind == "log":
        # An OTLP log record's body, else a GenAI record's messages.
        said = next((body[key] for key in ("body", "output", "input") if body.get(key) is not None), None)
        return f"[{body.get('level') or 'info'}] {body.get('name')}{field_preview(' ', said)}"
    if kind.startswith("custom."):
        # A workspace's own type: its body, without the ids the line already shows.
        said = {key: value for key, value in body.items() if key not in ("run_id", "step_id")}
        return (f"{step} " if event.step_id else "") + preview(said)
    if kind.startswith("gate."):
        who = f" by {body['approver']}" if body.get("approver") else ""
        return f"{body.get('name') or step}{who}{field_preview(': ', body.get('comment'))}"
    return preview(body)


def model_call_line(body):
    tokens = f"{body.get('prompt_tokens') or 0}+{body.get('completion_tokens') or 0} tokens"
    parts = [body.get("model", "?"), f"({body['provider']})" if body.get("provider") else "", tokens]
    if body.get("latency_ms") is not None:
        parts.append(f"{round(body['latency_ms'])} ms")
    if body.get("cost") is not None:
        parts.append(f"${body['cost']}")
    if body.get("error") or body.get("status") in ("error", "failed"):
        parts.append(f"error={preview(error_text(body.get('error')) or body.get('status'))}")
    return " ".join(p for p in parts if p)


def error_text(error):
    if isinstance(error, dict):
        return error.get("message") or error.get("type") or error
    return error


def field_preview(label, value):
    return "" if value is None else label + preview(value)


def preview(value):
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def one_line(text):
    return " ".join(str(text).split())
