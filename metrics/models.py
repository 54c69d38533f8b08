from django.db import models

from backoffice.models import Workspace
from traces.models import Agent, Run, Session


class TrackedEvent(models.Model):
    """A business event sent with track(name, properties)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    event_id = models.CharField(max_length=200)
    agent = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    session = models.ForeignKey(Session, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    name = models.CharField(max_length=200)
    properties = models.JSONField(default=dict, blank=True)
    timestamp = models.DateTimeField()

    class Meta:
        db_table = "tracked_events"
        indexes = [
            # Dashboard cards over business events: one event name over a time range.
            models.Index(fields=["workspace", "name", "timestamp"], name="tracked_by_name"),
            # `purge`: a workspace's events older than its retention.
            models.Index(fields=["workspace", "timestamp"], name="tracked_by_time"),
        ]

    def __str__(self):
        return self.name
