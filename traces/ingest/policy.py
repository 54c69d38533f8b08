"""What may be stored: text made storable, workspace redaction rules, and the agent's payload mode.

All of it runs on an event's body before anything is written, the event log included.
"""

import json
import logging
import re

from traces.models import PayloadMode, RedactionKind
from traces.safe_regex import compile_pattern

log = logging.getLogger(__name__)

# Body fields that carry payloads, cut by the agent's payload mode.
INPUT_FIELDS = ("input", "args", "request", "state")
# An OTLP log record's `body` is what it logged: an output like a task's.
OUTPUT_FIELDS = ("output", "result", "response", "error", "body")
# Ids link events into rows: redacting one would split a run in two, so redaction never touches them.
LINK_FIELDS = ("run_id", "step_id", "parent_id", "session_id", "agent_id", "call_id", "invocation_id")
# Amounts of money are decimal text in a body's stored form, but measurements all the same.
AMOUNT_FIELDS = ("cost", "input_cost", "output_cost")
OMITTED = "[omitted: minimal mode]"
# What a payload retention leaves of a chat turn's content or an event's payload field (backoffice.retention).
REMOVED = "[removed: payload retention]"


def storable_text(value):
    """PostgreSQL stores neither NUL characters nor lone surrogates; replace them instead of failing."""
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    if value.isascii():  # most text: no surrogate possible, no encoding to try
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def storable_event(raw):
    """make_storable(raw), skipping the walk when the event's JSON shows no NUL and no surrogate escape
    (a C-speed check; emoji are written as surrogate pairs there, so they take the walk too)."""
    try:
        text = json.dumps(raw)
    except (TypeError, ValueError):
        return make_storable(raw)
    if "\\u0000" in text or "\\ud" in text:
        return make_storable(raw)
    return raw


# How text PostgreSQL cannot store reaches a JSON body: a \u0000 or surrogate escape, or (json.loads
# decodes bytes with surrogatepass) a surrogate's raw bytes; a NUL byte is also how UTF-16 and
# UTF-32 bodies begin. Escapes of other \uDxxx characters and escaped backslashes match too: the
# check may send a clean body through the walk, never the reverse.
UNSTORABLE_IN_JSON = re.compile(rb"\\u0000|\\u[dD]|\xed[\xa0-\xbf]|\x00")


def storable_body(body):
    """Whether every text of a JSON request body is storable as it is, so its events need no walk.
    One C-speed scan of the bytes instead of a JSON dump of each event."""
    return UNSTORABLE_IN_JSON.search(body) is None


def make_storable(value):
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable_text(str(k)): make_storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [make_storable(v) for v in value]
    return value


class Redactor:
    """A workspace's enabled rules, compiled once per batch."""

    def __init__(self, rules):
        self.patterns = []
        self.keys = {}
        for rule in rules:
            if rule.kind == RedactionKind.KEY:
                self.keys[rule.pattern.strip().lower()] = rule.replacement
                continue
            try:
                self.patterns.append((compile_pattern(rule.pattern), rule.replacement))
            except ValueError as exc:  # rules are checked when saved; an old bad one must not stop ingest
                log.warning("skipping redaction rule %s: %s", rule.pk, exc)

    def __bool__(self):
        return bool(self.patterns or self.keys)

    def apply(self, value):
        if isinstance(value, str):
            for pattern, replacement in self.patterns:
                value = pattern.sub(replacement, value)
            return value
        if isinstance(value, dict):
            return {
                k: self.keys[k.lower()] if k.lower() in self.keys else self.apply(v) for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.apply(v) for v in value]
        return value

    def apply_to_body(self, body):
        """Redact every field of an event body but its ids and its measurements.

        Unknown fields are kept in metadata, so they are redacted too. Top-level numbers are
        measurements (tokens, latency, cost, limits) that the fold adds up, never payloads.
        """
        if not self:
            return body
        redactable = {
            k: v
            for k, v in body.items()
            if k not in LINK_FIELDS and k not in AMOUNT_FIELDS and isinstance(v, str | list | dict)
        }
        return {**body, **self.apply(redactable)}


TRUNCATED = re.compile(r"… \[truncated (\d+) chars\]\Z")


def truncate(value, limit):
    """Cut a payload to `limit` characters, saying what was cut.

    A value cut before is cut as its original would be: cutting at one limit and then at another
    gives what cutting at the smaller gives, so a mode applied again to stored payloads (see
    traces.ingest.recut) changes nothing, and a stricter one cuts them as if it had come first.
    An omitted payload stays omitted.
    """
    if value is None or value == OMITTED:
        return value
    if isinstance(value, str):
        cut = TRUNCATED.search(value)
        if cut is not None:
            kept = value[: cut.start()]
            if len(kept) <= limit:
                return value
            return kept[:limit] + f"… [truncated {len(kept) - limit + int(cut.group(1))} chars]"
        if len(value) <= limit:
            return value
        return value[:limit] + f"… [truncated {len(value) - limit} chars]"
    if is_cut_json(value):
        if len(value["preview"]) <= limit:
            return value
        return {**value, "preview": value["preview"][:limit]}
    text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) <= limit:
        return value
    return {"_truncated": True, "original_chars": len(text), "preview": text[:limit]}


def is_cut_json(value):
    return (
        isinstance(value, dict)
        and set(value) == {"_truncated", "original_chars", "preview"}
        and value["_truncated"] is True
        and isinstance(value["preview"], str)
    )


def keeps_whole(agent):
    """Does the agent's payload mode keep payloads as they are? (Events without an agent: yes.)"""
    return agent is None or agent.mode == PayloadMode.FULL


def apply_mode(body, agent, tool=False):
    """Apply the agent's payload mode (full, standard, minimal) and, in standard, its capture flags to
    an event body; `tool` says the body's `output` is a tool's result (a step.ok of a tool task).
    Also applied to the stored rows' payloads when the mode arrives after them (see recut): the same
    cut either way."""
    if keeps_whole(agent):
        return body
    body = dict(body)
    if agent.mode == PayloadMode.MINIMAL:
        for field in (*INPUT_FIELDS, *OUTPUT_FIELDS, "content"):
            if body.get(field) is not None:
                body[field] = OMITTED
        return body
    whole = kept_whole(agent, tool)
    for field in INPUT_FIELDS:
        if field in body and field not in whole:
            body[field] = truncate(body[field], agent.max_input_chars)
    for field in (*OUTPUT_FIELDS, "content"):
        if field in body and field not in whole:
            body[field] = truncate(body[field], agent.max_output_chars)
    return body


# The body fields a capture flag keeps whole in standard mode: a model call's request and response
# (llm.call), a tool's result (tool.ok, or the output of a tool task's step.ok).
LLM_PAYLOAD_FIELDS = ("request", "response")
TOOL_RESULT_FIELDS = ("result",)


def kept_whole(agent, tool=False):
    """The payload fields the agent's capture flags keep whole in standard mode."""
    whole = ()
    if agent.capture_llm_payloads:
        whole += LLM_PAYLOAD_FIELDS
    if agent.capture_tool_results:
        whole += (*TOOL_RESULT_FIELDS, "output") if tool else TOOL_RESULT_FIELDS
    return whole


def keeps_tool_results(agent):
    """Does the agent's policy treat a tool's result apart from other outputs?"""
    return agent is not None and agent.mode == PayloadMode.STANDARD and agent.capture_tool_results
