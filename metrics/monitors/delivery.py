"""Notifications: `notify(channel, message)` queues one, the worker's `deliver` job sends it.

A webhook gets the message's body as JSON, signed as replays are (traces.replay.sign: `sha256=` and the
HMAC-SHA256, keyed with the channel's secret, of the timestamp, a dot and the body), with the delivery's
id in `X-Backoffice-Delivery`. A Slack-compatible incoming webhook gets the text as blocks; an e-mail
address gets the subject and text through Django's e-mail backend (settings.EMAIL_*).

Once and not lost: `notify` writes the Delivery row and its job in the caller's transaction (the queue
is a table of the same database), and skips a key the channel already has within DEDUPE_WINDOW. A
failed attempt is tried again after BACKOFF; a job whose worker died is handed out again by the worker
(settings.Q_CLUSTER `retry`), and `deliver` sends nothing for a delivery already sent. A worker killed
while a request is in flight cannot know whether it arrived: the next attempt carries the same
`X-Backoffice-Delivery` id, by which the receiver drops the repeat.
"""

import json
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from traces.replay import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

from ..models import ChannelKind, Delivery, DeliveryStatus

DELIVERY_HEADER = "X-Backoffice-Delivery"
DEDUPE_WINDOW = timedelta(hours=24)
# Waits before the 2nd, 3rd, … attempt; after the last, the delivery is failed.
BACKOFF = [timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(minutes=30)]
DELIVER = "metrics.monitors.delivery.deliver"
TIMEOUT_SECONDS = 10


@dataclass
class Message:
    subject: str  # the e-mail's subject, the first line of a Slack message
    text: str  # plain lines, for Slack and e-mail
    key: str  # which notification this is: delivered once per channel within DEDUPE_WINDOW
    body: dict = field(default_factory=dict)  # a webhook's JSON body


class Failed(Exception):
    def __init__(self, error, status_code=None):
        super().__init__(error)
        self.status_code = status_code


def notify(channel, message):
    """Queue `message` for `channel`: the new Delivery, or None when the key was delivered (or is on
    its way) to the channel within the dedupe window. Three queries, in a transaction."""
    with transaction.atomic():
        recent = channel.deliveries.filter(key=message.key, created_at__gte=timezone.now() - DEDUPE_WINDOW)
        if recent.exists():
            return None
        delivery = Delivery.objects.create(
            workspace_id=channel.workspace_id, channel=channel, key=message.key[:200], message=asdict(message)
        )
        async_task(DELIVER, delivery.pk, task_name=f"delivery {delivery.pk}")
    return delivery


def deliver(delivery_id):
    """The worker's job: one attempt at a delivery, then the next one scheduled or the verdict kept."""
    delivery = Delivery.objects.select_related("channel").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return  # deleted with its channel, or already sent (a job handed out again after a crash)
    delivery.attempts += 1
    delivery.attempted_at = timezone.now()
    try:
        delivery.status_code = send(delivery.channel, Message(**delivery.message), delivery.pk)
        delivery.status, delivery.error = DeliveryStatus.SENT, ""
    except Failed as failure:
        delivery.status_code, delivery.error = failure.status_code, str(failure)[:500]
        if delivery.attempts > len(BACKOFF):
            delivery.status = DeliveryStatus.FAILED
    with transaction.atomic():
        delivery.save(update_fields=["attempts", "attempted_at", "status", "status_code", "error"])
        if delivery.status == DeliveryStatus.PENDING:
            Schedule.objects.create(
                name=f"delivery {delivery.pk} attempt {delivery.attempts + 1}",
                func=DELIVER,
                args=repr((delivery.pk,)),
                schedule_type=Schedule.ONCE,
                repeats=-1,
                next_run=delivery.attempted_at + BACKOFF[delivery.attempts - 1],
            )


def send(channel, message, delivery_id):
    """Send one message now: the HTTP status (None for e-mail), or raise Failed saying why."""
    if channel.kind == ChannelKind.EMAIL:
        try:
            send_mail(message.subject, message.text, settings.DEFAULT_FROM_EMAIL, [channel.address])
        except OSError as error:  # smtplib's errors are OSErrors
            raise Failed(f"The mail server refused it: {error}") from error
        return None
    if channel.kind == ChannelKind.SLACK:
        payload = {
            "text": message.subject,
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": message.subject[:150]}},
                {"type": "section", "text": {"type": "mrkdwn", "text": message.text[:3000]}},
            ],
        }
        return _post(channel.url, json.dumps(payload).encode(), {})
    body = json.dumps(message.body, ensure_ascii=False, default=str).encode()
    timestamp = str(int(time.time()))
    headers = {TIMESTAMP_HEADER: timestamp, DELIVERY_HEADER: str(delivery_id)}
    if channel.secret:
        headers[SIGNATURE_HEADER] = sign(channel.secret, timestamp, body)
    return _post(channel.url, body, headers)


def _post(url, body, headers):
    request = urllib.request.Request(  # noqa: S310 — an http(s) URL an admin set (URLField)
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "Backoffice notifications", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
            return answer.status
    except urllib.error.HTTPError as error:
        raise Failed(f"Answered {error.code} {error.reason}.", error.code) from error
    except OSError as error:  # URLError, and a timeout while connecting or reading
        reason = getattr(error, "reason", error)
        if isinstance(reason, TimeoutError):
            raise Failed(f"No answer within {TIMEOUT_SECONDS} seconds.") from error
        raise Failed(f"Could not be reached: {reason}.") from error
