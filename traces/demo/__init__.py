"""Realistic demo data, written as the events an agent's client would send.

`generate(seed, scale, anchor)` returns the events (and the QA reviews to file afterwards); the
`seed_demo` command sends them through `traces.ingest.ingest_batch`, the path of the ingest API.

Determinism: the content comes from `random.Random(seed)` and every timestamp is an offset from
`anchor` (by default the current hour, UTC). The same seed and anchor give the same events, ids
included, so seeding twice within the same hour gives identical rows (and the second time every
event is a duplicate). Another anchor gives a story of the same shape at other times, under new
ids, so seeding again later adds to the data instead of colliding with it.
"""

from . import documents, orders, reviews, support
from .story import DAYS, Story, current_anchor

__all__ = ["DAYS", "Demo", "current_anchor", "generate"]
BATCH_SIZE = 1000


class Demo:
    def __init__(self, events, review_plans):
        self.events = events
        self.review_plans = review_plans

    def batches(self, size=BATCH_SIZE):
        """The events in the order they happened, in batches as a client would send them."""
        ordered = sorted(self.events, key=lambda e: (e["timestamp"], e["id"]))
        for start in range(0, len(ordered), size):
            yield ordered[start : start + size]


def generate(seed, scale, anchor):
    story = Story(seed, scale, anchor)
    support.build(story)
    orders.build(story)
    documents.build(story)
    return Demo(story.stream.events, reviews.plan(story))
