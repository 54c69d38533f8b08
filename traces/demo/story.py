"""What the three demo agents share: the random streams, the calendar and the event stream."""

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from .recorder import Ids, RunRecorder, Stream

DAYS = 14
# Share of the traffic per hour of the day (UTC): quiet nights, busy office hours.
HOURLY = [1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 10, 9, 8, 9, 10, 10, 9, 8, 6, 5, 4, 3, 2, 1]


def current_anchor():
    """The current hour, in UTC: the demo's "now", so seeding twice within an hour gives the same rows."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass
class Critique:
    """What QA could say about a run's answer: the basis for a review."""

    bad: str
    corrected: str
    good: str
    tags: list = field(default_factory=list)
    turn: int = 1  # in a conversation, the turn whose answer is judged


@dataclass
class Candidate:
    run_id: str
    ended_at: datetime
    critique: Critique


class Story:
    """The shared state of one seeding: content comes from `rng` (the seed), ids from `ids`."""

    def __init__(self, seed, scale, anchor):
        self.rng = random.Random(seed)
        self.ids = Ids(seed, anchor)
        self.stream = Stream(self.ids)
        self.anchor = anchor
        self.scale = scale
        self.candidates = []

    def start_time(self, margin):
        """A moment of the last DAYS days, at least `margin` before the anchor.

        Busier in office hours, on weekdays and in recent days, so charts over the period have a shape.
        """
        earliest = self.anchor - timedelta(days=DAYS)
        latest = self.anchor - margin
        while True:
            days_back = self.rng.choices(range(DAYS), weights=[20 - d for d in range(DAYS)])[0]
            day = (self.anchor - timedelta(days=days_back)).date()
            if day.weekday() >= 5 and self.rng.random() < 0.5:
                continue
            hour = self.rng.choices(range(24), weights=HOURLY)[0]
            at = datetime.combine(day, time(hour), UTC) + timedelta(
                seconds=self.rng.randint(0, 3599), microseconds=self.rng.randint(0, 999_999)
            )
            if earliest <= at <= latest:
                return at

    def recent_time(self, low_minutes, high_minutes):
        """A moment a few minutes before the anchor: for work still in progress."""
        return self.anchor - timedelta(
            minutes=self.rng.randint(low_minutes, high_minutes), microseconds=self.rng.randint(0, 999_999)
        )

    def run(self, agent_id, at, session_id=None):
        return RunRecorder(
            self.stream, self.rng, self.ids.uuid(), at, agent_id=agent_id, session_id=session_id
        )

    def upsert_agent(self, at, **body):
        self.stream.add("agent.upsert", at, body)

    def critique(self, run_id, ended_at, critique):
        """Offer a finished run to QA: reviews.plan() picks some of them."""
        self.candidates.append(Candidate(run_id, ended_at, critique))

    def count(self, per_scale):
        return per_scale * self.scale
