"""Forms of the review pages: filing and editing a review, and the queue, stats and export filters."""

from django import forms
from django.http import QueryDict

from backoffice.days import DayField
from traces.models import UNRATED, UNRATED_LABEL, Priority, Rating, ReviewStatus

from . import tickets as reviews
from .queries import parse_cursor
from .stats import TOO_LONG, period, too_long

ANY = [("", "Any")]


def reply_label(message):
    """How an assistant turn is named in the "which reply" select."""
    text = " ".join(reviews.turn_text(message.content).split())
    return f"Reply #{message.sequence}: {text[:60]}{'…' if len(text) > 60 else ''}"


class ReviewForm(forms.Form):
    """Filing a review. `replies` are the run's assistant turns that the review may target."""

    rating = forms.ChoiceField(choices=Rating.choices, widget=forms.RadioSelect)
    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "What went wrong, or right? 10+ characters"}),
        max_length=10_000,
    )
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.MEDIUM)
    tags = forms.CharField(
        required=False,
        max_length=500,
        help_text="Comma separated, e.g. hallucination, tone",
        widget=forms.TextInput(attrs={"placeholder": "hallucination, tone"}),
    )
    target = forms.ChoiceField(required=False, label="Which reply")
    corrected_output = forms.CharField(
        required=False,
        max_length=100_000,
        label="Corrected output",
        widget=forms.Textarea(attrs={"rows": 8, "placeholder": "Optional: the answer it should have given"}),
    )

    def __init__(self, *args, replies=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.replies = {message.event_id: message for message in replies}
        self.fields["target"].choices = [("", "The run as a whole")] + [
            (message.event_id, reply_label(message)) for message in replies
        ]

    def clean_comment(self):
        return self.apply_rule("comment", reviews.clean_comment)

    def clean_tags(self):
        return self.apply_rule("tags", reviews.clean_tags)

    def apply_rule(self, name, rule):
        """Clean a field by the workflow's own rule, so the form and the API agree."""
        try:
            return rule(self.cleaned_data.get(name))
        except reviews.ReviewError as exc:
            raise forms.ValidationError(exc.message) from None

    def clean_target(self):
        return self.replies.get(self.cleaned_data.get("target"))

    def review_fields(self):
        data = dict(self.cleaned_data)
        data["target_message"] = data.pop("target")
        return data


class ReviewEditForm(ReviewForm):
    """Editing a review: the filing fields plus the work on it. Status moves are separate buttons."""

    assignee = forms.ChoiceField(required=False)
    queue = forms.ChoiceField(required=False)
    action = forms.ChoiceField(
        required=False,
        label="Action taken",
        choices=[("", "—"), *reviews.ACTIONS.items(), ("other", "Other…")],
    )
    action_other = forms.CharField(
        required=False, max_length=reviews.MAX_ACTION_CHARS, label="Other action", help_text="When “Other…”"
    )
    resolution_notes = forms.CharField(
        required=False, max_length=10_000, widget=forms.Textarea(attrs={"rows": 3}), label="Resolution notes"
    )

    def __init__(self, *args, assignees=(), queues=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.assignees = {user.get_username(): user for user in assignees}
        self.fields["assignee"].choices = [("", "Nobody")] + [(name, name) for name in self.assignees]
        self.queues = {str(queue.pk): queue for queue in queues}
        self.fields["queue"].choices = [("", "No queue")] + [(pk, q.name) for pk, q in self.queues.items()]

    @classmethod
    def for_review(cls, review, data=None, **kwargs):
        action = review.action_taken
        initial = {
            "rating": review.rating,
            "comment": review.comment,
            "priority": review.priority,
            "tags": ", ".join(review.tags),
            "target": review.target_message.event_id if review.target_message else "",
            "corrected_output": review.corrected_output,
            "assignee": review.assignee.get_username() if review.assignee else "",
            "queue": str(review.queue_id or ""),
            "action": action if action in reviews.ACTIONS or not action else "other",
            "action_other": "" if action in reviews.ACTIONS else action,
            "resolution_notes": review.resolution_notes,
        }
        return cls(data, initial=initial, **kwargs)

    def clean_assignee(self):
        return self.assignees.get(self.cleaned_data.get("assignee"))

    def clean_queue(self):
        return self.queues.get(self.cleaned_data.get("queue"))

    def clean(self):
        data = super().clean()
        if data.get("action") == "other" and not data.get("action_other", "").strip():
            self.add_error("action_other", "Say which action was taken, or pick one from the list.")
        return data

    def review_fields(self):
        data = super().review_fields()
        action = data.pop("action", "")
        other = data.pop("action_other", "")
        data["action_taken"] = other if action == "other" else action
        return data


class ReviewFilterForm(forms.Form):
    """The queue's query parameters. `agents` and `assignees` give the choices."""

    q = forms.CharField(required=False, max_length=200, label="Search")
    status = forms.ChoiceField(
        required=False,
        choices=[("active", "Active"), ("all", "All"), *ReviewStatus.choices],
    )
    rating = forms.ChoiceField(required=False, choices=ANY + Rating.choices + [(UNRATED, UNRATED_LABEL)])
    priority = forms.ChoiceField(required=False, choices=ANY + Priority.choices)
    agent = forms.ChoiceField(required=False)
    tag = forms.CharField(required=False, max_length=reviews.MAX_TAG_CHARS)
    assignee = forms.ChoiceField(required=False)
    queue = forms.ChoiceField(required=False)
    since = DayField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = DayField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    sort = forms.ChoiceField(
        required=False, choices=[("priority", "Priority"), ("newest", "Newest"), ("oldest", "Oldest")]
    )
    after = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)

    def __init__(self, data=None, *, agents=(), assignees=(), queues=(), **kwargs):
        super().__init__(data, **kwargs)
        if "queue" in self.fields:
            self.fields["queue"].choices = ANY + [(str(queue.pk), queue.name) for queue in queues]
        if "agent" in self.fields:
            self.fields["agent"].choices = ANY + [(agent.agent_id, str(agent)) for agent in agents]
        if "assignee" in self.fields:
            people = [(user.get_username(), user.get_username()) for user in assignees]
            self.fields["assignee"].choices = ANY + [("none", "Unassigned"), *people]

    def clean_status(self):
        return self.cleaned_data.get("status") or "active"

    def clean_sort(self):
        return self.cleaned_data.get("sort") or "priority"

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        if data.get("after") and "sort" in data:
            try:
                data["cursor"] = parse_cursor(data["after"], data["sort"])
            except ValueError:
                self.add_error("after", "Not a page of this list: start again from the first page.")
        return data

    def query(self, **changes):
        """The query string of these filters with some changed; empty values left out."""
        params = QueryDict(mutable=True)
        values = {**{name: self.data.get(name, "") for name in self.fields}, **changes}
        for name, value in values.items():
            if value not in ("", None):
                params[name] = value
        return params.urlencode()


class ExportFilterForm(ReviewFilterForm):
    """The training export: resolved reviews only, by agent, rating, tag and date."""

    q = status = priority = assignee = queue = sort = after = None


class EvaluationFilterForm(ReviewFilterForm):
    """The evaluation dataset: the queue's filters, read in the order reviews were filed."""

    sort = after = None


class StatsFilterForm(ReviewFilterForm):
    """The stats: by agent over a date range, the last twelve weeks unless told otherwise."""

    q = status = rating = priority = tag = assignee = sort = after = None

    def clean(self):
        data = super().clean()
        data["since"], data["until"] = period(data.get("since"), data.get("until"))
        if not self.errors and too_long(data["since"], data["until"]):
            self.add_error("since", TOO_LONG)
        return data
