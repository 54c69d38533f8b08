"""The reviewer's score form: one field per active config of the workspace, and what is scored."""

from django import forms

from traces.models import ScoreConfig, ScoreDataType

from .records import MAX_COMMENT

NOT_SCORED = [("", "—")]


def active_configs(workspace):
    """The configs reviewers score against, in name order. One query."""
    return list(ScoreConfig.objects.filter(workspace=workspace, archived=False).order_by("name", "id"))


def config_field(config):
    help_text = config.description
    if config.data_type == ScoreDataType.NUMERIC:
        bounds = {"min_value": config.min_value, "max_value": config.max_value}
        if config.min_value is not None and config.max_value is not None:
            help_text = help_text or f"{config.min_value:g} to {config.max_value:g}"
        widget = forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"})
        return forms.FloatField(
            required=False, label=config.name, help_text=help_text, widget=widget, **bounds
        )
    if config.data_type == ScoreDataType.BOOLEAN:
        choices = [*NOT_SCORED, ("true", "Yes"), ("false", "No")]
    else:
        choices = NOT_SCORED + [(c["label"], c["label"]) for c in config.categories]
    return forms.ChoiceField(required=False, label=config.name, help_text=help_text, choices=choices)


class ScoreForm(forms.Form):
    """Scores of one reviewer on the run or one of its replies. A field left at "—" is not sent."""

    target = forms.ChoiceField(required=False, label="Scored")
    comment = forms.CharField(
        required=False,
        max_length=MAX_COMMENT,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Optional: why these scores"}),
    )

    # The Review tab holds the review form too: its fields keep ids of their own.
    prefix = "score"

    def __init__(self, *args, configs=(), replies=(), reply_label=str, **kwargs):
        super().__init__(*args, **kwargs)
        self.configs = {f"config_{config.pk}": config for config in configs}
        self.fields["target"].choices = [("", "The run as a whole")] + [
            (message.event_id, reply_label(message)) for message in replies
        ]
        for name, config in self.configs.items():
            self.fields[name] = config_field(config)

    def config_fields(self):
        return [self[name] for name in self.configs]

    def given(self):
        """(field name, config, value) of each score filled in."""
        return [
            (name, config, self.cleaned_data[name])
            for name, config in self.configs.items()
            if self.cleaned_data.get(name) not in (None, "")
        ]

    @classmethod
    def initial_from(cls, scores, target):
        """The form's initial values from the reviewer's own scores of `target` (an event id or "")."""
        initial = {"target": target}
        for score in scores:
            if (score.message.event_id if score.message else "") == target and score.config_pk:
                initial[f"config_{score.config_pk}"] = score.display_value
                initial["comment"] = score.comment
        return initial
