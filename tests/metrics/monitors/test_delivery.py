import hashlib
import hmac
from datetime import timedelta

from django.core import mail
from django.test import TestCase
from django.utils import timezone
from django_q.models import OrmQ, Schedule

from metrics.models import Channel, ChannelKind, DeliveryStatus
from metrics.monitors.delivery import BACKOFF, DELIVERY_HEADER, Message, deliver, notify
from tests.factories import make_workspace
from tests.receiver import Receiver


def message(key="monitor-1:alert"):
    return Message(
        subject="Error rate is alert", text="Error rate: 12 % (alert above 5 %)", key=key, body={"a": 1}
    )


class DeliveryTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()

    def channel(self, url, kind=ChannelKind.WEBHOOK, **fields):
        return Channel.objects.create(workspace=self.workspace, kind=kind, name=kind, url=url, **fields)

    def test_notify_queues_one_job_with_its_delivery(self):
        channel = self.channel("http://127.0.0.1:9/hook")
        with self.assertNumQueries(5):  # three, and the savepoint around them
            delivery = notify(channel, message())
        self.assertEqual(delivery.status, DeliveryStatus.PENDING)
        self.assertEqual(OrmQ.objects.count(), 1)

    def test_the_same_key_is_queued_once_within_the_window(self):
        channel = self.channel("http://127.0.0.1:9/hook")
        self.assertIsNotNone(notify(channel, message()))
        self.assertIsNone(notify(channel, message()))
        self.assertIsNotNone(notify(channel, message(key="monitor-1:ok")))
        self.assertEqual(OrmQ.objects.count(), 2)

    def test_a_webhook_gets_the_json_body_signed_with_hmac_sha256(self):
        with Receiver() as receiver:
            delivery = notify(self.channel(receiver.url, secret="s3cret"), message())
            deliver(delivery.pk)
        (got,) = receiver.received
        self.assertEqual(got.body, {"a": 1})
        timestamp = got.headers["X-Backoffice-Timestamp"]
        expected = hmac.new(b"s3cret", f"{timestamp}.".encode() + got.raw, hashlib.sha256).hexdigest()
        self.assertEqual(got.headers["X-Backoffice-Signature"], f"sha256={expected}")
        self.assertEqual(got.headers[DELIVERY_HEADER], str(delivery.pk))
        delivery.refresh_from_db()
        self.assertEqual((delivery.status, delivery.status_code, delivery.attempts), ("sent", 200, 1))

    def test_a_failed_attempt_is_tried_again_after_a_backoff(self):
        with Receiver([500, 200]) as receiver:
            delivery = notify(self.channel(receiver.url), message())
            deliver(delivery.pk)
            delivery.refresh_from_db()
            self.assertEqual((delivery.status, delivery.status_code, delivery.attempts), ("pending", 500, 1))
            self.assertIn("500", delivery.error)
            retry = Schedule.objects.get(func="metrics.monitors.delivery.deliver")
            self.assertEqual(retry.schedule_type, Schedule.ONCE)
            self.assertEqual(retry.next_run, delivery.attempted_at + BACKOFF[0])
            deliver(delivery.pk)  # what the schedule runs
        delivery.refresh_from_db()
        self.assertEqual((delivery.status, delivery.status_code, delivery.attempts), ("sent", 200, 2))
        self.assertEqual(len(receiver.received), 2)

    def test_after_the_last_attempt_the_delivery_has_failed(self):
        with Receiver([503] * (len(BACKOFF) + 1)) as receiver:
            delivery = notify(self.channel(receiver.url), message())
            for _ in range(len(BACKOFF) + 1):
                deliver(delivery.pk)
            deliver(delivery.pk)  # a late retry sends nothing more
        delivery.refresh_from_db()
        self.assertEqual((delivery.status, delivery.attempts), (DeliveryStatus.FAILED, len(BACKOFF) + 1))
        self.assertEqual(len(receiver.received), len(BACKOFF) + 1)

    def test_an_unreachable_url_is_a_failed_attempt_that_says_so(self):
        delivery = notify(self.channel("http://127.0.0.1:9/hook"), message())
        deliver(delivery.pk)
        delivery.refresh_from_db()
        self.assertEqual(delivery.status, DeliveryStatus.PENDING)
        self.assertIsNone(delivery.status_code)
        self.assertIn("Could not be reached", delivery.error)

    def test_a_delivery_already_sent_is_not_sent_again(self):
        with Receiver() as receiver:
            delivery = notify(self.channel(receiver.url), message())
            deliver(delivery.pk)
            deliver(delivery.pk)  # the same job handed out again after a crash
        self.assertEqual(len(receiver.received), 1)

    def test_slack_gets_the_text_as_blocks(self):
        with Receiver() as receiver:
            deliver(notify(self.channel(receiver.url, kind=ChannelKind.SLACK), message()).pk)
        body = receiver.received[0].body
        self.assertEqual(body["text"], "Error rate is alert")
        self.assertEqual(body["blocks"][1]["text"]["text"], "Error rate: 12 % (alert above 5 %)")
        self.assertNotIn("X-Backoffice-Signature", receiver.received[0].headers)

    def test_email_goes_through_the_email_backend(self):
        channel = Channel.objects.create(
            workspace=self.workspace, kind=ChannelKind.EMAIL, name="on call", address="oncall@example.com"
        )
        delivery = notify(channel, message())
        deliver(delivery.pk)
        (sent,) = mail.outbox
        self.assertEqual((sent.subject, sent.to), ("Error rate is alert", ["oncall@example.com"]))
        delivery.refresh_from_db()
        self.assertEqual(delivery.status, DeliveryStatus.SENT)

    def test_the_window_is_measured_from_the_first_delivery(self):
        channel = self.channel("http://127.0.0.1:9/hook")
        first = notify(channel, message())
        first.created_at = timezone.now() - timedelta(days=2)
        first.save()
        self.assertIsNotNone(notify(channel, message()))
