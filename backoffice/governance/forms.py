import json
from datetime import UTC, datetime, timedelta

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.utils import timezone

from backoffice.days import DayField
from backoffice.models import DEFAULT_SCOPES, Role, Scope, Workspace
from traces.ingest import custom
from traces.models import (
    Agent,
    EventType,
    ModelPrice,
    Priority,
    RedactionKind,
    RedactionRule,
    ReviewQueue,
    ScoreConfig,
    ScoreDataType,
)
from traces.reviews import rules
from traces.reviews.tickets import ReviewError, assignable_users
from traces.safe_regex import check_replacement, compile_pattern
from traces.scores.configs import ScoreError, check_config

ROLE_CHOICES = Role.choices


class InvitationForm(forms.Form):
    """Adding a member is an invitation: the person joins by accepting it, never by being picked."""

    email = forms.EmailField(
        required=False,
        help_text="Optional. The link is e-mailed there, and only the account with this address can accept.",
    )
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial=Role.VIEWER)

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.workspace = workspace

    def clean_email(self):
        email = self.cleaned_data["email"].strip()
        if email and self.workspace.memberships.filter(user__email__iexact=email).exists():
            raise forms.ValidationError("Someone with this e-mail is already a member.")
        return email


class MemberCreateForm(UserCreationForm):
    """A new user, with the password checked by AUTH_PASSWORD_VALIDATORS, who joins with a role."""

    role = forms.ChoiceField(choices=ROLE_CHOICES, initial=Role.VIEWER)

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # UserCreationForm focuses the username on load; here the form sits below the member list,
        # and the focus would scroll the page to it.
        self.fields["username"].widget.attrs.pop("autofocus", None)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)


class ApiKeyForm(forms.Form):
    label = forms.CharField(max_length=100, help_text="Where the key is used, e.g. “support-bot production”.")
    expires_on = DayField(
        required=False,
        label="Expires on",
        help_text="Optional. The key stops working at the start of this day (UTC).",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        initial=DEFAULT_SCOPES,
        widget=forms.CheckboxSelectMultiple,
        help_text="Agents need ingest; scripts that read runs or file reviews need read.",
    )

    def clean_expires_on(self):
        day = self.cleaned_data["expires_on"]
        if day is not None and day <= timezone.now().date():
            raise forms.ValidationError("The expiry date must be in the future.")
        return day

    def expires_at(self):
        day = self.cleaned_data["expires_on"]
        if day is None:
            return None
        return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


class ModelPriceForm(forms.ModelForm):
    class Meta:
        model = ModelPrice
        fields = [
            "model_pattern",
            "input_per_million",
            "output_per_million",
            "cached_per_million",
            "effective_from",
        ]
        labels = {
            "model_pattern": "Model",
            "input_per_million": "Input $/M",
            "output_per_million": "Output $/M",
            "cached_per_million": "Cached input $/M",
            "effective_from": "Effective from",
        }
        field_classes = {"effective_from": DayField}
        widgets = {"effective_from": forms.DateInput(attrs={"type": "date"})}

    def clean_model_pattern(self):
        pattern = self.cleaned_data["model_pattern"].strip()
        if not pattern:
            raise forms.ValidationError("Name a model, or a pattern such as gpt-4o*.")
        return pattern

    def clean(self):
        cleaned = super().clean()
        for name in ("input_per_million", "output_per_million", "cached_per_million"):
            if cleaned.get(name) is not None and cleaned[name] < 0:
                self.add_error(name, "A price cannot be negative.")
        return cleaned


class RecomputeForm(forms.Form):
    period_start = DayField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    period_end = DayField(label="To (included)", widget=forms.DateInput(attrs={"type": "date"}))

    @classmethod
    def last_month(cls):
        today = timezone.now().date()
        return cls(initial={"period_start": today - timedelta(days=30), "period_end": today})

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("period_start"), cleaned.get("period_end")
        if start and end and start > end:
            self.add_error("period_end", "The end of the period comes before its start.")
        return cleaned


class RedactionRuleForm(forms.ModelForm):
    class Meta:
        model = RedactionRule
        fields = ["kind", "pattern", "replacement"]
        labels = {"kind": "Match", "pattern": "Pattern or key name"}

    def clean(self):
        cleaned = super().clean()
        pattern, replacement = cleaned.get("pattern"), cleaned.get("replacement", "")
        if not pattern:
            return cleaned
        if cleaned.get("kind") == RedactionKind.KEY:
            cleaned["pattern"] = pattern.strip()
            return cleaned
        try:
            compiled = compile_pattern(pattern)
        except ValueError:
            return cleaned  # the model's clean() names the error on the pattern field
        if compiled.match(""):
            self.add_error("pattern", "This pattern matches empty text, so it would mangle every value.")
        try:
            check_replacement(compiled, replacement)
        except ValueError as exc:
            self.add_error("replacement", f"Not a valid replacement for this pattern: {exc}.")
        return cleaned


class RedactionTestForm(forms.Form):
    sample = forms.CharField(
        label="Sample event body",
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text="JSON, as an event's body; plain text is treated as one payload value.",
    )

    def parsed(self):
        """The sample as JSON when it parses, else as text."""
        text = self.cleaned_data["sample"]
        try:
            return json.loads(text), True
        except ValueError:
            return text, False


class RetentionForm(forms.ModelForm):
    """The retention tiers (payloads, rows, daily roll-ups) and the audit log's retention."""

    DAYS = ("payload_retention_days", "retention_days", "rollup_retention_days", "audit_retention_days")

    class Meta:
        model = Workspace
        fields = ["payload_retention_days", "retention_days", "rollup_retention_days", "audit_retention_days"]
        labels = {
            "payload_retention_days": "Keep payloads for (days)",
            "retention_days": "Keep data for (days)",
            "rollup_retention_days": "Keep daily roll-ups for (days)",
            "audit_retention_days": "Keep the audit log for (days)",
        }
        help_texts = {
            "payload_retention_days": "Inputs, outputs, messages, model-call requests and responses. "
            "Empty keeps them as long as the data.",
            "retention_days": "Runs, tasks, model calls, messages, events. Leave empty to keep data forever.",
            "rollup_retention_days": "What dashboards read; at least as long as the data. "
            "Empty keeps them forever.",
            "audit_retention_days": "At least as long as the data. Leave empty to keep it forever.",
        }

    def clean(self):
        cleaned = super().clean()
        for name in self.DAYS:
            days = cleaned.get(name)
            if days is not None and not 1 <= days <= 36_500:
                self.add_error(name, "Choose between 1 and 36,500 days, or leave empty.")
                cleaned[name] = None
        payloads, data = cleaned.get("payload_retention_days"), cleaned.get("retention_days")
        rollups, audit = cleaned.get("rollup_retention_days"), cleaned.get("audit_retention_days")
        kept = "forever" if data is None else f"{data} days"
        # Each tier outlives the one before it: payloads go first, then their rows, then the roll-ups
        # that summarise the rows, and the audit log says what happened to all of them.
        if payloads is not None and data is not None and payloads > data:
            self.add_error("payload_retention_days", f"Keep payloads no longer than the data ({kept}).")
        if rollups is not None and data is not None and rollups < data:
            self.add_error(
                "rollup_retention_days", f"Keep daily roll-ups at least as long as the data ({kept})."
            )
        if audit is not None and (data is None or audit < data):
            self.add_error(
                "audit_retention_days", f"Keep the audit log at least as long as the data ({kept})."
            )
        return cleaned


class AgentCaptureForm(forms.ModelForm):
    """What an agent's events keep: the same fields, and the same bounds, as an agent.upsert."""

    class Meta:
        model = Agent
        fields = [
            "mode",
            "max_input_chars",
            "max_output_chars",
            "capture_llm_payloads",
            "capture_tool_results",
        ]
        labels = {
            "mode": "Capture mode",
            "max_input_chars": "Inputs cut at (characters)",
            "max_output_chars": "Outputs cut at (characters)",
            "capture_llm_payloads": "Model calls' requests and responses",
            "capture_tool_results": "Tool results",
        }
        help_texts = {
            "mode": "Minimal keeps structure, timings, tokens and cost, and no payload.",
        }

    def clean(self):
        cleaned = super().clean()
        for name in ("max_input_chars", "max_output_chars"):
            chars = cleaned.get(name)
            if chars is not None and not 1 <= chars <= 10**8:
                self.add_error(name, "Choose between 1 and 100,000,000 characters.")
        return cleaned


class IndentedJSONField(forms.JSONField):
    """JSON shown indented, so a schema reads as it would in an editor."""

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False)


class EventTypeForm(forms.ModelForm):
    """A custom event type; the instance comes with its workspace, so the name is checked as unique."""

    class Meta:
        model = EventType
        fields = ["name", "description", "schema"]
        labels = {"name": "Name (after custom.)", "schema": "JSON Schema of the body"}
        help_texts = {"name": f"{custom.NAME_RULE[0].upper()}{custom.NAME_RULE[1:]}."}
        widgets = {"schema": forms.Textarea(attrs={"rows": 10, "spellcheck": "false"})}
        field_classes = {"schema": IndentedJSONField}

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        problem = custom.name_problem(name)
        if problem:
            raise forms.ValidationError(f"The name {problem}.")
        if EventType.objects.filter(workspace=self.instance.workspace, name=name).exists():
            raise forms.ValidationError(f"custom.{name} is defined already: delete it first to change it.")
        return name

    def clean_schema(self):
        schema = self.cleaned_data["schema"]
        problem = custom.schema_problem(schema)
        if problem:
            raise forms.ValidationError(f"The schema is {problem}." if problem.startswith("not") else problem)
        return schema


class AuditPageForm(forms.Form):
    """`after` is the keyset cursor of the audit log: "<created_at ISO>~<id>" of the last row shown."""

    after = forms.CharField(required=False, max_length=80)

    def clean_after(self):
        value = self.cleaned_data["after"]
        if not value:
            return None
        stamp, _, pk = value.rpartition("~")
        try:
            when = datetime.fromisoformat(stamp)
            pk = int(pk)
        except ValueError:
            raise forms.ValidationError("Not a page position.") from None
        if timezone.is_naive(when):
            raise forms.ValidationError("Not a page position.")
        return when, pk


class ScoreConfigForm(forms.Form):
    """A score config. Categories are written one a line, `label` or `label = value` (values default
    to the line's place, from 0)."""

    name = forms.CharField(max_length=200, help_text="As scores name it: helpfulness, tone, hallucination.")
    data_type = forms.ChoiceField(choices=ScoreDataType.choices, label="Type")
    min_value = forms.FloatField(required=False, label="Minimum", help_text="Numeric only; optional.")
    max_value = forms.FloatField(required=False, label="Maximum", help_text="Numeric only; optional.")
    categories = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "ok\ncurt\nrude = 2"}),
        help_text="Categorical only: one label a line, optionally followed by “= value”.",
    )
    description = forms.CharField(required=False, max_length=2000, help_text="What a reviewer should judge.")

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.workspace = workspace

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if ScoreConfig.objects.filter(workspace=self.workspace, name=name).exists():
            raise forms.ValidationError("A score config of this name exists.")
        return name

    def clean_categories(self):
        categories = []
        for line in self.cleaned_data["categories"].splitlines():
            if not line.strip():
                continue
            label, equals, value = line.partition("=")
            if equals:
                try:
                    number = float(value)
                except ValueError:
                    raise forms.ValidationError(
                        f"“{line.strip()}”: the value after = is not a number."
                    ) from None
            else:
                number = len(categories)
            categories.append({"label": label.strip(), "value": number})
        return categories

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            cleaned["categories"] = check_config(
                cleaned["data_type"], cleaned["min_value"], cleaned["max_value"], cleaned["categories"]
            )
        except ScoreError as exc:
            field = exc.field.split(".")[0]
            self.add_error(field if field in self.fields else None, exc.message)
        return cleaned


class ForgetUserForm(forms.Form):
    """Which end user to forget; `confirm` must repeat the id, so a slip of the finger deletes nothing."""

    user = forms.CharField(max_length=200, label="End user id", strip=False)
    confirm = forms.CharField(
        max_length=200, required=False, strip=False, label="Type the id again to confirm"
    )

    def clean_user(self):
        user = self.cleaned_data["user"]
        if not user.strip():
            raise forms.ValidationError("Enter the end user's id.")
        return user

    def clean(self):
        data = super().clean()
        if self.data.get("confirm") is not None and "user" in data and data.get("confirm") != data["user"]:
            self.add_error("confirm", "Type the same id as above to confirm.")
        return data


class ReplayWebhookForm(forms.Form):
    """An agent's replay webhook. The secret is never shown again: left empty, the one saved stays."""

    replay_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        label="Replay webhook URL",
        help_text="Empty turns replay off for this agent.",
    )
    replay_secret = forms.CharField(
        required=False,
        max_length=200,
        min_length=16,
        strip=False,
        label="Signing secret",
        widget=forms.PasswordInput(render_value=False),
        help_text="16+ characters; leave empty to keep the current one.",
    )

    def __init__(self, *args, has_secret=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.has_secret = has_secret

    def clean_replay_url(self):
        url = self.cleaned_data["replay_url"]
        if url and not url.lower().startswith(("http://", "https://")):
            raise forms.ValidationError("Use an http:// or https:// URL.")
        return url

    def clean(self):
        data = super().clean()
        if data.get("replay_url") and not (data.get("replay_secret") or self.has_secret):
            self.add_error("replay_secret", "A webhook needs a signing secret.")
        return data


class ReviewRuleForm(forms.Form):
    """A routing rule: which runs (a Runs-list filter), how many of them, and the review they get."""

    name = forms.CharField(max_length=rules.MAX_NAME_CHARS)
    filter = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.TextInput(attrs={"placeholder": "status=failed&score=helpfulness<3&min_cost=0.5"}),
        help_text="A Runs-list query string, or paste a link of the Runs list; empty matches every run.",
    )
    sample_rate = forms.FloatField(
        min_value=0,
        max_value=1,
        initial=1,
        label="Sample rate",
        help_text="0 to 1: 0.1 reviews one run in ten.",
    )
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.MEDIUM)
    tags = forms.CharField(required=False, max_length=500, help_text="Comma separated.")
    queue = forms.ModelChoiceField(
        queryset=ReviewQueue.objects.none(), required=False, empty_label="No queue"
    )
    assignee = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(),
        required=False,
        empty_label="Round-robin over the queue",
        help_text="Nobody, without a queue.",
    )
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, workspace, rule=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.workspace, self.rule = workspace, rule
        self.fields["queue"].queryset = ReviewQueue.objects.filter(workspace=workspace)
        self.fields["assignee"].queryset = assignable_users(workspace)
        self.fields["assignee"].label_from_instance = lambda user: user.get_username()

    @classmethod
    def of_rule(cls, rule):
        initial = {name: getattr(rule, name) for name in cls.base_fields}
        initial["tags"] = ", ".join(rule.tags)
        return cls(workspace=rule.workspace, rule=rule, initial=initial)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            return rules.clean_rule(self.workspace, data, self.rule)
        except ReviewError as exc:
            message = exc.message[:1].upper() + exc.message[1:]
            self.add_error(exc.field, message if message.endswith(".") else message + ".")
        return data


class BackfillForm(forms.Form):
    """A past range of days, both included, whose finished runs go through a rule."""

    since = DayField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = DayField(label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["until"] < data["since"]:
            self.add_error("until", "The end date is before the start date.")
        return data

    @staticmethod
    def last_week():
        today = timezone.now().date()
        return {"since": today - timedelta(days=7), "until": today}

    def bounds(self):
        start = datetime.combine(self.cleaned_data["since"], datetime.min.time(), tzinfo=UTC)
        end = datetime.combine(self.cleaned_data["until"], datetime.min.time(), tzinfo=UTC)
        return start, end + timedelta(days=1)


class ReviewQueueForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(required=False, max_length=300)
    members = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Reviewers and admins; rules without an assignee hand reviews to them in turn.",
    )

    def __init__(self, *args, workspace, queue=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.workspace, self.queue = workspace, queue
        self.fields["members"].queryset = assignable_users(workspace)
        self.fields["members"].label_from_instance = lambda user: user.get_username()

    def clean_name(self):
        name = " ".join(self.cleaned_data["name"].split())
        others = ReviewQueue.objects.filter(workspace=self.workspace, name=name)
        if self.queue is not None:
            others = others.exclude(pk=self.queue.pk)
        if others.exists():
            raise forms.ValidationError("A queue of this name exists.")
        return name
