"""How a chat turn's content is shown: a string as text, an object with a known `type` natively, and
anything else as JSON.

Content comes from agent code as it is (DESIGN §4: a string, or an object with a `type`), so every
shape must render: a known type whose fields are missing or of odd types falls back to the JSON view
as a whole, and the fields a native rendering does not show are listed below it as JSON, so nothing
is dropped silently. Only http(s) URLs become links or images.
"""

from dataclasses import dataclass, field

TEXT_TYPES = {"text", "markdown", "plain"}
BUTTON_TYPES = {"buttons", "quick_replies", "quick_reply", "choices", "options"}
BUTTON_LISTS = ("items", "buttons", "options", "quick_replies", "choices")
LABEL_KEYS = ("label", "title", "text")
FILE_TYPES = {"file", "audio", "video", "document"}
FILE_NAMES = ("name", "filename", "title")


@dataclass
class Shown:
    """One turn's rendering: `kind` picks the template branch; `rest` is what it leaves unshown."""

    kind: str
    text: str = ""
    title: str = ""
    url: str = ""
    image: str = ""
    alt: str = ""
    caption: str = ""
    labels: list = field(default_factory=list)
    rest: dict = field(default_factory=dict)
    value: object = None


class Odd(Exception):
    """A known type with a missing field or a field of an odd type: shown as JSON instead."""


def web_url(value):
    if not isinstance(value, str) or not value.lower().startswith(("http://", "https://")):
        raise Odd
    return value


def optional_text(content, *names):
    """The first of these fields that is present, which must be a string; "" when none is."""
    for name in names:
        if name in content:
            if not isinstance(content[name], str):
                raise Odd
            return content[name]
    return ""


def button_labels(content):
    """The labels of a button row and what its items carry beside them (ids, payloads)."""
    lists = [name for name in BUTTON_LISTS if name in content]
    if len(lists) != 1 or not isinstance(content[lists[0]], list):
        raise Odd
    labels, extras = [], []
    for item in content[lists[0]]:
        if isinstance(item, str):
            labels.append(item)
            extras.append({})
        elif isinstance(item, dict):
            keys = [key for key in LABEL_KEYS if isinstance(item.get(key), str)]
            if not keys:
                raise Odd
            labels.append(item[keys[0]])
            extras.append({k: v for k, v in item.items() if k != keys[0]})
        else:
            raise Odd
    return lists[0], labels, extras


def native(content):
    kind = content["type"]
    if kind in TEXT_TYPES:
        if not isinstance(content.get("text"), str):
            raise Odd
        return Shown("text", text=content["text"]), {"type", "text"}
    if kind == "image":
        url = web_url(content.get("url"))
        alt, caption = optional_text(content, "alt"), optional_text(content, "caption")
        return Shown("image", url=url, alt=alt, caption=caption), {"type", "url", "alt", "caption"}
    if kind in BUTTON_TYPES:
        name, labels, extras = button_labels(content)
        shown = Shown("buttons", text=optional_text(content, "text"), labels=labels)
        if any(extras):
            shown.rest[name] = extras
        return shown, {"type", "text", name}
    if kind == "card":
        title = optional_text(content, "title")
        text = optional_text(content, "text", "subtitle", "description")
        url = web_url(content["url"]) if "url" in content else ""
        image = web_url(content["image_url"]) if "image_url" in content else ""
        if not (title or text):
            raise Odd
        # Only the first of text/subtitle/description is shown: the others stay in `rest`.
        text_key = next((name for name in ("text", "subtitle", "description") if name in content), None)
        keys = {"type", "title", "url", "image_url", text_key}
        return Shown("card", title=title, text=text, url=url, image=image), keys
    if kind in FILE_TYPES:
        url = web_url(content.get("url"))
        name = optional_text(content, *FILE_NAMES)
        label_key = next((key for key in FILE_NAMES if key in content), None)
        return Shown("file", url=url, title=name or url, text=kind), {"type", "url", label_key}
    raise Odd


def shown(content):
    """The rendering of one turn's content, whatever its shape."""
    if isinstance(content, str):
        return Shown("text", text=content)
    if content is None:
        return Shown("text")
    if not isinstance(content, dict) or not isinstance(content.get("type"), str):
        return Shown("json", value=content)
    try:
        view, keys = native(content)
    except Odd:
        return Shown("json", value=content)
    view.rest.update({name: value for name, value in content.items() if name not in keys})
    return view
