"""The days a filter may name: far enough apart to mean "everything", near enough that a range's end
(the day after `until`, at midnight) and its weekly or daily buckets stay computable. Instants
(InstantField) keep to the same days, so that their offset never carries them past a year the database
can store.

`date(9999, 12, 31) + timedelta(days=1)` overflows, and a range from year 1 counts 100,000 weeks:
both are answered 4xx naming the parameter, on every page (DayField) and API (Day).
"""

from datetime import date
from typing import Annotated

from django import forms
from pydantic import Field

EARLIEST = date(1900, 1, 1)
LATEST = date(9998, 12, 31)
OUT_OF_RANGE = f"Must be a day from {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}."


class DayField(forms.DateField):
    """A DateField that refuses days outside EARLIEST…LATEST."""

    def validate(self, value):
        super().validate(value)
        if value and not EARLIEST <= value <= LATEST:
            raise forms.ValidationError(OUT_OF_RANGE, code="out_of_range")


# The API's date parameters: pydantic answers a day out of range as a validation error of its field.
Day = Annotated[date, Field(ge=EARLIEST, le=LATEST)]


class InstantField(forms.DateTimeField):
    """A DateTimeField (ISO 8601, an offset or the viewer's zone) on a day within EARLIEST…LATEST."""

    def to_python(self, value):
        try:
            return super().to_python(value)
        except OverflowError:
            raise forms.ValidationError(OUT_OF_RANGE, code="out_of_range") from None

    def validate(self, value):
        super().validate(value)
        if value and not EARLIEST <= value.date() <= LATEST:
            raise forms.ValidationError(OUT_OF_RANGE, code="out_of_range")
