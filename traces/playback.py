"""What a step-by-step replay of events reads, shared by the Playback pages and `manage.py logs`: the
events that count as errors, and the time window of a conversation's N-th turn."""

from django.db.models import Q

from traces.models import ChatMessage, ChatRole

ERRORS = (
    Q(type__in=("run.failed", "step.failed", "tool.failed", "gate.rejected"))
    | Q(type="log", payload__level__iexact="error")
    | Q(type="log", payload__level__iexact="critical")
    | Q(type="log", payload__level__iexact="fatal")
    | Q(type="llm.call", payload__status__in=("error", "failed"))
    | (Q(type="llm.call", payload__has_key="error") & ~Q(payload__error=None))
)


def turn_window(session_pk, number):
    """The events of the conversation's N-th turn (1 is the first), as a filter on their timestamp, or
    None when it has fewer turns. A turn is a user message and what answered it: it opens where the
    message or the run it began started, and ends where the next turn opens. One query."""
    users = ChatMessage.objects.filter(session_id=session_pk, role=ChatRole.USER)
    users = users.select_related("run").only("created_at", "run__started_at").order_by("sequence", "id")
    opened = list(users[number - 1 : number + 1])
    if not opened:
        return None
    starts = [min(m.created_at, m.run.started_at) if m.run else m.created_at for m in opened]
    within = Q(timestamp__gte=starts[0])
    return within & Q(timestamp__lt=starts[1]) if len(starts) > 1 else within
