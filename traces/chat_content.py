"""How a chat turn's content is shown: a string as text, an object with a known `type` natively, and
anything else as JSON.

Content comes from agent code as it is (DESIGN §4: a string, or an object with a `type`), so every
shape must render: a known type whose fields are missing or of odd types falls back to the JSON view
as a whole, and the fields a native rendering does not show are listed below it as JSON, so nothing
is dropped silently. Only http(s) URLs become links; images and audio play inline only from https
URLs (the Content-Security-Policy allows `https:` images and media, never `http:`: a plain-http one
shows as a link instead).
"""

from dataclasses import dataclass, field

TEXT_TYPES = {"text", "markdown", "plain"}
BUTTON_TYPES = {"buttons", "quick_replies", "quick_reply", "choices", "options"}
QUICK_REPLY_TYPES = {"quick_replies", "quick_reply"}
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
    # Quick replies (suggestions that vanish once one is picked) read differently from buttons.
    quick: bool = False
    rest: dict = field(default_factory=dict)
    value: object = None


class Odd(Exception):
    """A known type with a missing field or a field of an odd type: shown as JSON instead."""


def web_url(value):
    if not isinstance(value, str) or not value.lower().startswith(("http://", "https://")):
        raise Odd
    return value


def fetched_inline(url):
    """Whether the browser may fetch `url` itself (an <img> or <audio>): https only."""
    return url.lower().startswith("https://")


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
        keys = {"type", "url", "alt", "caption"}
        if not fetched_inline(url):
            return Shown("file", url=url, title=caption or alt or url, text=kind), keys
        return Shown("image", url=url, alt=alt, caption=caption), keys
    if kind in BUTTON_TYPES:
        name, labels, extras = button_labels(content)
        shown = Shown(
            "buttons", text=optional_text(content, "text"), labels=labels, quick=kind in QUICK_REPLY_TYPES
        )
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
        # A plain-http picture would be blocked: it stays in `rest`, as JSON.
        if image and not fetched_inline(image):
            image = ""
            keys.discard("image_url")
        shown = Shown("card", title=title, text=text, url=url, image=image)
        if "buttons" in content:
            _, shown.labels, extras = button_labels({"buttons": content["buttons"]})
            if any(extras):
                shown.rest["buttons"] = extras
            keys.add("buttons")
        return shown, keys
    if kind in FILE_TYPES:
        url = web_url(content.get("url"))
        name = optional_text(content, *FILE_NAMES)
        label_key = next((key for key in FILE_NAMES if key in content), None)
        # Audio plays in the turn when the browser may fetch it; anything else is a link.
        view = "audio" if kind == "audio" and fetched_inline(url) else "file"
        return Shown(view, url=url, title=name or url, text=kind), {"type", "url", label_key}
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


# Chat message lists inside payloads (a model request's `messages`, an agent's input): shown as the
# Conversation page's bubbles.
BUBBLE_ROLES = {"user", "assistant", "system", "tool"}
# Roles of other vocabularies (LangChain, Gemini, OpenAI's developer and function), mapped onto those
# four: by the bubbles, and by OTLP ingest when it stores a span's messages as turns.
ROLE_ALIASES = {
    "human": "user",
    "ai": "assistant",
    "model": "assistant",
    "developer": "system",
    "function": "tool",
}
MAX_MESSAGES = 200  # a longer list stays a JSON tree: its bubbles would outweigh the page
MESSAGE_CHARS = 5_000  # of a message's text, before the payload's "show all"


@dataclass
class PayloadMessage:
    """One message of a payload's list, with what chat_bubble.html reads of a ChatMessage."""

    pk: str
    role: str
    content: object
    metadata: dict
    event_id: str = ""
    created_at: None = None
    run: None = None


def is_message_list(value):
    return (
        isinstance(value, list)
        and 0 < len(value) <= MAX_MESSAGES
        and all(isinstance(m, dict) and isinstance(m.get("role"), str) and "content" in m for m in value)
    )


def payload_messages(value, key, *, full=False):
    """The chat messages of a payload, the value itself or one of its top-level fields; [] when none.

    `key` names the payload on the page, so that each bubble's id is unique. Long texts are cut unless
    `full`, as the payload's JSON tree is.
    """
    found = next(
        (v for v in [value, *(value.values() if isinstance(value, dict) else ())] if is_message_list(v)), None
    )
    limit = None if full else MESSAGE_CHARS
    return [message(entry, f"{key}-{index}", limit) for index, entry in enumerate(found or ())]


def message(entry, pk, limit):
    role = ROLE_ALIASES.get(entry["role"].lower(), entry["role"].lower())
    metadata = {name: value for name, value in entry.items() if name not in ("role", "content")}
    if role not in BUBBLE_ROLES:
        metadata, role = {"role": entry["role"], **metadata}, "custom"
    content = text_of_parts(entry["content"])
    if isinstance(content, str) and limit and len(content) > limit:
        content = content[:limit] + "…"
    return PayloadMessage(pk, role, content, metadata)


def text_of_parts(content):
    """Content sent as a list of text parts ([{"type": "text", "text": …}], as chat APIs allow) reads as
    its text; any other list is left as it is (and shown as JSON)."""
    if (
        isinstance(content, list)
        and content
        and all(
            isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
            for p in content
        )
    ):
        return "\n\n".join(p["text"] for p in content)
    return content
