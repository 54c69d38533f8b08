"""The review workflow: what a review may hold, where its status may go, and the log of every change.

Pages and the API both go through these functions, so the rules hold whoever writes.
"""

import json

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from backoffice.models import Role
from traces.models import ChatRole, Priority, Rating, Review, ReviewActivity, ReviewStatus

MIN_COMMENT_CHARS = 10
WORKING_ROLES = (Role.REVIEWER, Role.ADMIN)
MAX_TAGS = 10
MAX_TAG_CHARS = 40
MAX_ACTION_CHARS = 200
# Long texts are logged cut, so the activity log stays readable and small.
LOGGED_TEXT_CHARS = 300

# The actions a team usually takes; anything else is kept as the reviewer wrote it.
ACTIONS = {
    "kb_updated": "Knowledge base updated",
    "prompt_changed": "Prompt changed",
    "bug_filed": "Bug filed",
    "model_retrained": "Model retrained",
    "no_action": "No action",
}

S = ReviewStatus
TRANSITIONS = {
    S.OPEN: (S.IN_REVIEW, S.RESOLVED, S.DISMISSED),
    S.IN_REVIEW: (S.OPEN, S.RESOLVED, S.DISMISSED),
    S.RESOLVED: (S.OPEN,),
    S.DISMISSED: (S.OPEN,),
}
# The activity verb of a move, by the status it lands on.
STATUS_VERBS = {S.OPEN: "reopened", S.IN_REVIEW: "started", S.RESOLVED: "resolved", S.DISMISSED: "dismissed"}

# How the activity log reads, by action.
ACTIVITY_VERBS = {
    "created": "filed the review",
    "edited": "edited",
    "started": "started the review",
    "resolved": "resolved",
    "dismissed": "dismissed",
    "reopened": "reopened",
}
# How the activity log names the fields it lists.
FIELD_LABELS = {"target_message": "targeted reply"}

EDITABLE_FIELDS = (
    "rating",
    "comment",
    "priority",
    "tags",
    "assignee",
    "action_taken",
    "resolution_notes",
    "corrected_output",
    "target_message",
    "queue",
)


class ReviewError(ValueError):
    """A rule was broken; `field` names what to fix."""

    def __init__(self, field, message):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class AlreadyReviewed(Exception):
    """The run has a review: there is one per run."""

    def __init__(self, review):
        super().__init__(f"run {review.run.run_id} already has review {review.pk}")
        self.review = review


def clean_comment(value):
    comment = (value or "").strip()
    if len(comment) < MIN_COMMENT_CHARS:
        raise ReviewError("comment", f"write at least {MIN_COMMENT_CHARS} characters")
    return comment


def clean_tags(value):
    """Tags from a list or a comma-separated text: trimmed, lower case, without repeats, in order."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    tags = []
    for item in items:
        if not isinstance(item, str):
            raise ReviewError("tags", "each tag must be text")
        tag = " ".join(item.split()).lower()
        if not tag or tag in tags:
            continue
        if len(tag) > MAX_TAG_CHARS:
            raise ReviewError("tags", f"a tag has at most {MAX_TAG_CHARS} characters ({tag[:20]}…)")
        if '"' in tag or "\\" in tag:
            raise ReviewError("tags", "tags cannot contain quotes or backslashes")
        tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise ReviewError("tags", f"at most {MAX_TAGS} tags")
    return tags


def clean_choice(field, value, choices):
    if value not in choices.values:
        raise ReviewError(field, f"must be one of {', '.join(choices.values)}")
    return value


def clean_action(value):
    action = " ".join((value or "").split())
    if len(action) > MAX_ACTION_CHARS:
        raise ReviewError("action_taken", f"at most {MAX_ACTION_CHARS} characters")
    return action


def turn_text(content):
    """A chat turn's content as plain text: a string as is, {"type": "text", "text": …} as its text,
    any other object as indented JSON."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict) and content.get("type") == "text" and isinstance(content.get("text"), str):
        return content["text"]
    return json.dumps(content, ensure_ascii=False, indent=2, sort_keys=True)


def action_label(value):
    return ACTIONS.get(value, value)


def assignable_users(workspace):
    """Members who may work a review: reviewers and admins. A queryset; evaluating it hits the database."""
    return (
        get_user_model()
        .objects.filter(memberships__workspace=workspace, memberships__role__in=WORKING_ROLES, is_active=True)
        .order_by("username", "id")
    )


def check_target(run, message):
    """A review may point at one assistant turn of its own run."""
    if message is None:
        return None
    if message.run_id != run.pk:
        raise ReviewError("target_message", "must be a turn of the reviewed run")
    if message.role != ChatRole.ASSISTANT:
        raise ReviewError("target_message", "must be an assistant turn")
    return message


def check_queue(run, queue):
    """A review may be in one queue of its own workspace, or in none."""
    if queue is not None and queue.workspace_id != run.workspace_id:
        raise ReviewError("queue", "not a queue of this workspace")
    return queue


def cleaned(review_run, fields):
    """Validate the given review fields; returns the cleaned values. Raises ReviewError."""
    cleaners = {
        "rating": lambda v: clean_choice("rating", v, Rating),
        "priority": lambda v: clean_choice("priority", v, Priority),
        "comment": clean_comment,
        "tags": clean_tags,
        "action_taken": clean_action,
        "resolution_notes": lambda v: (v or "").strip(),
        "corrected_output": lambda v: (v or "").strip(),
        "target_message": lambda v: check_target(review_run, v),
        "assignee": lambda v: v,
        "queue": lambda v: check_queue(review_run, v),
    }
    return {name: cleaners[name](value) for name, value in fields.items()}


def logged(name, value):
    """How a value appears in the activity log."""
    if name == "assignee":
        return value.get_username() if value else None
    if name == "target_message":
        return value.event_id if value else None
    if name == "queue":
        return value.name if value else None
    if isinstance(value, str) and len(value) > LOGGED_TEXT_CHARS:
        return value[:LOGGED_TEXT_CHARS] + "…"
    return value


def record(review, actor, action, changes):
    return ReviewActivity.objects.create(review=review, actor=actor, action=action, changes=changes)


def file_review(run, *, actor, rating, comment, priority=Priority.MEDIUM, **fields):
    """Create the run's review and log it. Raises AlreadyReviewed or ReviewError."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"not review fields: {', '.join(sorted(unknown))}")
    values = cleaned(run, {"rating": rating, "comment": comment, "priority": priority, **fields})
    existing = Review.objects.filter(run=run).select_related("run").first()
    if existing:
        raise AlreadyReviewed(existing)
    try:
        with transaction.atomic():
            review = Review.objects.create(workspace=run.workspace, run=run, reviewed_by=actor, **values)
            given = {name: [None, logged(name, v)] for name, v in values.items() if v not in ("", [], None)}
            record(review, actor, "created", given)
    except IntegrityError:
        # Someone filed one between our check and our insert.
        raise AlreadyReviewed(Review.objects.select_related("run").get(run=run)) from None
    return review


def allowed_moves(status):
    return TRANSITIONS[status]


@transaction.atomic
def update_review(review, *, actor, user=None, status=None, **fields):
    """Apply edits and an optional status move, log what changed, and return the changes.

    Resolving stamps who and when; reopening clears them (the log keeps the history). Starting
    a review nobody is assigned to assigns the `user` who started it.
    """
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"not review fields: {', '.join(sorted(unknown))}")
    values = cleaned(review.run, fields)
    changes = {}
    for name, value in values.items():
        old = getattr(review, name)
        if old != value:
            changes[name] = [logged(name, old), logged(name, value)]
            setattr(review, name, value)
    action = "edited"
    if status is not None and status != review.status:
        clean_choice("status", status, ReviewStatus)
        if status not in allowed_moves(review.status):
            raise ReviewError(
                "status", f"a {review.get_status_display().lower()} review cannot move to {status}"
            )
        changes["status"] = [review.status, status]
        action = STATUS_VERBS[status]
        review.status = status
        if status == S.RESOLVED:
            review.resolved_by, review.resolved_at = actor, timezone.now()
        else:
            review.resolved_by, review.resolved_at = "", None
        if status == S.IN_REVIEW and review.assignee is None and user is not None:
            changes["assignee"] = [None, user.get_username()]
            review.assignee = user
    if not changes:
        return {}
    review.updated_at = timezone.now()
    review.save()
    record(review, actor, action, changes)
    return changes
