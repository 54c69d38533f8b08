"""Forgetting an end user: everything a workspace holds about one `user_id`, deleted in batches.

What is the person's:
- their conversations (sessions whose end user is them), and every run that names them or sits in
  one of those conversations, with the runs' tasks, model calls, events, reviews and scores;
- the chat turns of those conversations and runs, with their scores;
- run-less events (chat turns and business events sent without a run) of those conversations, or whose
  body names the user;
- business events of those conversations or runs, or whose `user_id` property is theirs;
- the search documents of all of these (a run's go with the run, turns' and business events' by ref).

It is a `Deletion` like the retention purge, so the same machinery keeps every roll-up exact: the daily
trace roll-ups and the business-event roll-up lose what each batch added, and a conversation of
someone else that held one of their runs gets its counts and preview recomputed. Interrupted, it leaves
consistent data; running it again finishes.

The audit log keeps who asked, when and how many rows of each kind went, forever (its retention
passes these entries by), but not the data, not even the user id: only a keyed hash of it
(HMAC-SHA256 salted with the server's SECRET_KEY and the workspace), so whoever knows the id can
check that it was forgotten, and the log alone cannot tell who it was.
"""

from dataclasses import dataclass

from django.db.models import CharField, Q
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils.crypto import salted_hmac

from metrics.models import TrackedEvent
from traces.models import ChatMessage, Event, ModelCall, Review, Run, Score, SearchKind, Session, Task

from . import audit
from .retention import Deletion, Step

ACTION = audit.FORGOTTEN


def user_hash(workspace, user_id):
    """What the audit log keeps instead of the id (see the module docstring)."""
    return salted_hmac("backoffice.forget", f"{workspace.pk}:{user_id}", algorithm="sha256").hexdigest()


def body_text(path):
    """A field of an event's body as text, compared as text on both databases."""
    return Cast(KeyTextTransform.from_lookup(path), CharField())


@dataclass(kw_only=True)
class Forget(Deletion):
    user_id: str

    def steps(self):
        """Children first, and the rows found through a run or a conversation before it goes: business
        events and chat turns only point to them (their links would be set to null)."""
        ws, user = self.workspace, self.user_id
        sessions = Session.objects.filter(workspace=ws, user_id=user)
        # Served by run_by_user (workspace, user_id, …) and run_by_session.
        runs = Run.objects.filter(Q(user_id=user) | Q(session__in=sessions), workspace=ws)
        # Events sent without a run (a turn, a track call) name their conversation or user in the body
        # (a business event in its properties).
        loose_events = (
            Event.objects.filter(workspace=ws, run__isnull=True)
            .alias(
                session_ref=body_text("payload__session_id"),
                user_ref=body_text("payload__user_id"),
                property_ref=body_text("payload__properties__user_id"),
            )
            .filter(
                Q(session_ref__in=sessions.values("session_id")) | Q(user_ref=user) | Q(property_ref=user)
            )
        )
        return [
            Step(
                "model calls",
                ModelCall.objects.filter(run__in=runs),
                before_delete=self.trace_subtract("calls"),
            ),
            Step("events", Event.objects.filter(run__in=runs)),
            Step("events", loose_events),
            Step("tasks", Task.objects.filter(run__in=runs), before_delete=self.trace_subtract("tasks")),
            Step("reviews", Review.objects.filter(run__in=runs)),
            Step(
                "scores",
                Score.objects.filter(
                    Q(run__in=runs) | Q(session__in=sessions) | Q(message__session__in=sessions),
                    workspace=ws,
                ),
            ),
            Step(
                "business events",
                TrackedEvent.objects.filter(
                    Q(session__in=sessions) | Q(run__in=runs) | Q(properties__user_id=user), workspace=ws
                ),
                before_delete=self.forget_business_events,
            ),
            Step(
                "messages",
                ChatMessage.objects.filter(Q(session__in=sessions) | Q(run__in=runs), workspace=ws),
                touches_sessions=True,
                before_delete=self.search_forget(SearchKind.MESSAGE),
            ),
            Step("runs", runs, touches_sessions=True, before_delete=self.trace_subtract("runs")),
            Step("conversations", sessions),
        ]


def forget(workspace, user_id, *, request=None, actor_name="", batch=None):
    """Delete everything about `user_id` in the workspace and keep the request in the audit log (by
    `request`'s user or key, or `actor_name` for a command). Returns the counts removed."""
    job = Forget(workspace=workspace, user_id=user_id, **({"batch": batch} if batch else {}))
    removed = job.run()
    changes = {"user_hash": user_hash(workspace, user_id), "removed": removed}
    target = "an end user (keyed hash in the details)"
    if request is not None:
        audit.record(request, ACTION, target, changes, workspace=workspace)
    else:
        audit.note(workspace, actor_name, ACTION, target, changes)
    return removed
