"""Replaying a run: its recorded input, session and metadata sent to the agent's replay webhook.

The agent receives a POST with a JSON body:

    {"replay_of": "<run_id>", "agent_id": "…", "workflow": "…", "session_id": "…" | null,
     "user_id": "…" | null, "input": <the run's input>, "metadata": {…}, "tags": […],
     "requested_by": "<who asked>", "requested_at": "<RFC 3339>"}

and two headers: `X-Backoffice-Timestamp` (seconds since the epoch) and `X-Backoffice-Signature`
(`sha256=` and the hex HMAC-SHA256, keyed with the agent's replay secret, of the timestamp, a dot and the
body as sent). The agent checks the signature (and that the timestamp is recent) before it runs, and
records the new run with `replay_of` in its run.start body (or metadata): the two runs are then linked
both ways on their pages.

Sent synchronously with a short timeout: a replay is one request an admin waits for, and the answer
(or why it failed) is shown to them. Any 2xx is success; anything else is a `ReplayError` that says what
went wrong in words an admin can act on.
"""

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from backoffice import audit

SIGNATURE_HEADER = "X-Backoffice-Signature"
TIMESTAMP_HEADER = "X-Backoffice-Timestamp"


class ReplayError(Exception):
    """Why a replay was not sent or not accepted; the message is shown to whoever asked."""


class NoWebhook(ReplayError):
    pass


@dataclass
class Sent:
    status: int
    url: str


def body_of(run, requested_by):
    return {
        "replay_of": run.run_id,
        "agent_id": run.agent.agent_id if run.agent else None,
        "workflow": run.workflow,
        "session_id": run.session.session_id if run.session else None,
        "user_id": run.user_id or None,
        "input": run.input,
        "metadata": run.metadata,
        "tags": run.tags,
        "requested_by": requested_by,
        "requested_at": timezone.now().isoformat(),
    }


def sign(secret, timestamp, body):
    """The signature header's value for a body (bytes) sent at `timestamp` (a string)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def replay(run, requested_by):
    """Send the run to its agent's webhook. Returns `Sent`; raises `ReplayError` saying why not."""
    agent = run.agent
    if agent is None or not agent.replay_url:
        raise NoWebhook("The run's agent has no replay webhook: an admin sets one in Settings › Agents.")
    body = json.dumps(body_of(run, requested_by), ensure_ascii=False, default=str).encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(  # noqa: S310 — an http(s) URL an admin set (URLField)
        agent.replay_url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Backoffice replay",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(agent.replay_secret, timestamp, body),
        },
    )
    timeout = settings.REPLAY_TIMEOUT_SECONDS
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            return Sent(status=answer.status, url=agent.replay_url)
    except urllib.error.HTTPError as error:
        raise ReplayError(f"The replay webhook answered {error.code} {error.reason}.") from error
    except OSError as error:  # URLError, and a timeout while connecting or reading
        reason = getattr(error, "reason", error)
        if isinstance(reason, TimeoutError):
            raise ReplayError(f"The replay webhook did not answer within {timeout} seconds.") from error
        raise ReplayError(f"The replay webhook could not be reached: {reason}.") from error


def send(request, run):
    """Replay the run for a page or the API: (Sent, None) or (None, the error); recorded when sent."""
    try:
        sent = replay(run, audit.actor_of(request)[1])
    except ReplayError as error:
        return None, error
    audit.record(request, "run.replayed", run.run_id, {"webhook": sent.url, "status": sent.status})
    return sent, None
