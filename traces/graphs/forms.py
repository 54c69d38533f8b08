"""Query parameters of the DAG and workflow pages (the timeline reads the Tasks tab's)."""

from datetime import timedelta

from django import forms

MODES = [("workflow", "Workflow"), ("aggregated", "Aggregated"), ("expanded", "Expanded")]
PERIODS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


class DagForm(forms.Form):
    mode = forms.ChoiceField(choices=MODES, required=False)
    task = forms.CharField(max_length=200, required=False)


class WorkflowDagForm(forms.Form):
    period = forms.ChoiceField(
        choices=[("24h", "Last 24 hours"), ("7d", "Last 7 days"), ("30d", "Last 30 days")], required=False
    )

    def clean_period(self):
        return self.cleaned_data["period"] or "7d"
