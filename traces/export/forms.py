import re

from django import forms

from traces.models import Exporter

# An HTTP header name (RFC 9110 token).
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Set by every request: an exporter's own header of these names would break the body.
RESERVED = {"content-type", "content-encoding", "content-length", "host"}
MAX_HEADERS = 20
VALUE_CHARS = 4000


def masked(value):
    """A secret header value as shown back: its last four characters at most, when long enough."""
    return "••••" + (value[-4:] if len(value) >= 12 else "")


class ExporterForm(forms.ModelForm):
    endpoint = forms.URLField(
        max_length=500,
        assume_scheme="https",
        label="Endpoint URL",
        widget=forms.URLInput(attrs={"placeholder": "https://collector:4318/v1/traces"}),
        help_text="The traces URL of an OTLP/HTTP receiver.",
    )
    header_lines = forms.CharField(
        label="Headers",
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "Authorization: Bearer …", "autocomplete": "off"}
        ),
        help_text="One “Name: value” a line, sent with every request. Values are never shown in full.",
    )

    class Meta:
        model = Exporter
        fields = ["name", "endpoint", "enabled"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields[
                "header_lines"
            ].help_text = "Leave empty to keep the headers sent now; any line here replaces them all."
            self.fields["clear_headers"] = forms.BooleanField(label="Send no headers", required=False)

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        taken = Exporter.objects.filter(workspace=self.instance.workspace, name=name).exclude(
            pk=self.instance.pk
        )
        if taken.exists():
            raise forms.ValidationError("Another exporter has this name.")
        return name

    def clean_header_lines(self):
        headers = {}
        for number, line in enumerate(self.cleaned_data["header_lines"].splitlines(), start=1):
            if not line.strip():
                continue
            name, colon, value = line.partition(":")
            name, value = name.strip(), value.strip()
            if not colon or not HEADER_NAME.fullmatch(name):
                raise forms.ValidationError(f"Line {number}: write a header as “Name: value”.")
            if name.lower() in RESERVED:
                raise forms.ValidationError(f"Line {number}: {name} is set by the exporter itself.")
            if not value or len(value) > VALUE_CHARS:
                raise forms.ValidationError(f"Line {number}: a value of 1 to {VALUE_CHARS} characters.")
            headers[name] = value
        if len(headers) > MAX_HEADERS:
            raise forms.ValidationError(f"At most {MAX_HEADERS} headers.")
        return headers

    def save(self, commit=True):
        exporter = super().save(commit=False)
        if self.cleaned_data["header_lines"] or self.cleaned_data.get("clear_headers"):
            exporter.headers = self.cleaned_data["header_lines"]
        if commit:
            exporter.save()
        return exporter
