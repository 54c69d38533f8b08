import json
from datetime import UTC, datetime, timedelta

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.utils import timezone

from backoffice.days import DayField
from backoffice.models import DEFAULT_SCOPES, Role, Scope, Workspace
from traces.models import ModelPrice, RedactionKind, RedactionRule
from traces.safe_regex import check_replacement, compile_pattern

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
    class Meta:
        model = Workspace
        fields = ["retention_days"]
        labels = {"retention_days": "Keep data for (days)"}
        help_texts = {"retention_days": "Leave empty to keep data forever."}

    def clean_retention_days(self):
        days = self.cleaned_data["retention_days"]
        if days is not None and not 1 <= days <= 36_500:
            raise forms.ValidationError("Choose between 1 and 36,500 days, or leave empty.")
        return days


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
