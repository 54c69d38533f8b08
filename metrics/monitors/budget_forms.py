"""The form of Settings › Budgets: its fields checked by budgets.clean_budget, as the API's are."""

from django import forms

from backoffice.api_rendering import plain_decimal

from ..models import BudgetPeriod, BudgetScope, BudgetUnit, Channel
from .budgets import MAX_KEY_CHARS, BudgetError, clean_budget


class BudgetForm(forms.Form):
    scope = forms.ChoiceField(choices=BudgetScope.choices)
    key = forms.CharField(
        required=False,
        max_length=MAX_KEY_CHARS,
        label="Agent, workflow or user",
        help_text="The agent's id, the workflow's name or the end user's id; empty limits each one.",
    )
    period = forms.ChoiceField(choices=BudgetPeriod.choices, help_text="UTC days and calendar months.")
    unit = forms.ChoiceField(choices=BudgetUnit.choices)
    limit = forms.DecimalField(min_value=0, max_digits=20, decimal_places=6)
    notify_at = forms.CharField(
        initial="80, 100",
        label="Notify at (%)",
        help_text="Percentages of the limit, comma-separated: each notifies once a period.",
    )
    channels = forms.ModelMultipleChoiceField(
        queryset=Channel.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, workspace, budget=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.workspace, self.budget = workspace, budget
        self.fields["channels"].queryset = Channel.objects.filter(workspace=workspace)

    @classmethod
    def initial_of(cls, budget):
        fields = {name: getattr(budget, name) for name in ("scope", "key", "period", "unit")}
        fields["limit"] = plain_decimal(budget.limit)
        percentages = ", ".join(f"{fraction * 100:g}" for fraction in budget.notify_at)
        return {**fields, "notify_at": percentages, "channels": list(budget.channels.all())}

    def clean_notify_at(self):
        try:
            return [float(part) / 100 for part in self.cleaned_data["notify_at"].split(",") if part.strip()]
        except ValueError:
            raise forms.ValidationError("Numbers separated by commas, such as 80, 100.") from None

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            fields = clean_budget({name: data[name] for name in data if name != "channels"}, self.budget)
        except BudgetError as error:
            self.add_error(error.field, error.message)
            return data
        return {**fields, "channels": list(data["channels"])}
