"""What a score config may say, and what a score must be to match it."""

import math
from dataclasses import dataclass

from traces.models import ScoreConfig, ScoreDataType

MAX_CATEGORIES = 50
MAX_LABEL = 200
BOOLEAN_LABELS = {True: "true", False: "false"}
BOOLEAN_TEXT = {"true": True, "false": False, "1": True, "0": False}


class ScoreError(Exception):
    """A score or config that breaks a rule: `field` names what is wrong."""

    def __init__(self, field, message):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def finite(value):
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_config(data_type, min_value, max_value, categories):
    """The categories as stored ([{"label", "value"}]), or ScoreError naming the field."""
    if data_type not in ScoreDataType.values:
        raise ScoreError("data_type", f"must be one of {', '.join(ScoreDataType.values)}")
    for name, bound in (("min_value", min_value), ("max_value", max_value)):
        if bound is not None and not finite(bound):
            raise ScoreError(name, "must be a finite number")
    if data_type != ScoreDataType.NUMERIC and (min_value is not None or max_value is not None):
        raise ScoreError(
            "min_value" if min_value is not None else "max_value", "only numeric scores have a range"
        )
    if min_value is not None and max_value is not None and min_value > max_value:
        raise ScoreError("max_value", "must not be below min_value")
    if data_type != ScoreDataType.CATEGORICAL:
        if categories:
            raise ScoreError("categories", "only categorical scores have categories")
        return []
    if not categories:
        raise ScoreError("categories", "a categorical score needs at least one category")
    if len(categories) > MAX_CATEGORIES:
        raise ScoreError("categories", f"at most {MAX_CATEGORIES}")
    stored, labels, values = [], set(), set()
    for index, category in enumerate(categories):
        where = f"categories.{index}"
        if not isinstance(category, dict):
            raise ScoreError(where, 'must be {"label": …, "value": …}')
        label, value = category.get("label"), category.get("value", index)
        if not isinstance(label, str) or not label.strip() or len(label) > MAX_LABEL:
            raise ScoreError(f"{where}.label", f"must be text of 1 to {MAX_LABEL} characters")
        if not finite(value):
            raise ScoreError(f"{where}.value", "must be a number")
        label = label.strip()
        if label in labels:
            raise ScoreError(f"{where}.label", f"{label!r} is listed twice")
        if value in values:
            raise ScoreError(f"{where}.value", f"{value!r} is listed twice")
        labels.add(label)
        values.add(value)
        stored.append({"label": label, "value": value})
    return stored


@dataclass
class Checked:
    data_type: str
    value: float | None
    string_value: str


def check_score(config, data_type, value):
    """The stored form of a score's value, checked against its config (or None), else ScoreError.

    Without a data type the config's is taken, else the value's kind tells (a number is numeric,
    true/false boolean, text categorical).
    """
    if config is not None and config.archived:
        raise ScoreError("name", f"the score config {config.name!r} is archived")
    if data_type is None:
        data_type = config.data_type if config else guessed_type(value)
    if data_type not in ScoreDataType.values:
        raise ScoreError("data_type", f"must be one of {', '.join(ScoreDataType.values)}")
    if config is not None and data_type != config.data_type:
        raise ScoreError(
            "data_type", f"the score config {config.name!r} is {config.data_type}, not {data_type}"
        )
    if data_type == ScoreDataType.NUMERIC:
        return Checked(data_type, numeric(config, value), "")
    if data_type == ScoreDataType.BOOLEAN:
        truth = boolean(value)
        return Checked(data_type, float(truth), BOOLEAN_LABELS[truth])
    label, number = categorical(config, value)
    return Checked(data_type, number, label)


def guessed_type(value):
    if isinstance(value, bool):
        return ScoreDataType.BOOLEAN
    if isinstance(value, str):
        return ScoreDataType.CATEGORICAL
    return ScoreDataType.NUMERIC


def numeric(config, value):
    if not finite(value):
        raise ScoreError("value", "a numeric score's value must be a finite number")
    value = float(value)
    if config is not None:
        if config.min_value is not None and value < config.min_value:
            raise ScoreError(
                "value", f"{value:g} is below the minimum of {config.name!r}, {config.min_value:g}"
            )
        if config.max_value is not None and value > config.max_value:
            raise ScoreError(
                "value", f"{value:g} is above the maximum of {config.name!r}, {config.max_value:g}"
            )
    return value


def boolean(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in BOOLEAN_TEXT:
        return BOOLEAN_TEXT[value.strip().lower()]
    raise ScoreError("value", "a boolean score's value must be true or false (or 1 or 0)")


def categorical(config, value):
    """(label, its value in the config or None). A number names the category of that value."""
    if config is None:
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_LABEL:
            raise ScoreError(
                "value", f"a categorical score's value must be a label of 1 to {MAX_LABEL} characters"
            )
        return value.strip(), None
    for category in config.categories:
        if (isinstance(value, str) and value.strip() == category["label"]) or (
            finite(value) and value == category["value"]
        ):
            return category["label"], float(category["value"])
    labels = ", ".join(category["label"] for category in config.categories)
    raise ScoreError("value", f"{value!r} is not a category of {config.name!r} ({labels})")


def config_snapshot(config):
    """A config's fields as the audit log records them."""
    return {
        "data_type": config.data_type,
        "min_value": config.min_value,
        "max_value": config.max_value,
        "categories": ", ".join(f"{c['label']}={c['value']:g}" for c in config.categories),
        "description": config.description,
        "archived": config.archived,
    }


def configs_named(workspace, names):
    """{name: ScoreConfig} of the workspace's configs with these names. One query."""
    return {
        config.name: config for config in ScoreConfig.objects.filter(workspace=workspace, name__in=set(names))
    }
