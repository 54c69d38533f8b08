"""What the roll-up tests share: batches sent as ingest may get them, and cards checked against the rows."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import event
from hypothesis import strategies as st

from metrics.engine import evaluate
from traces.ingest import ingest_batch


def send_shuffled(workspace, data, sent):
    """Ingest `sent` in an order, split into batches and with resent events, all drawn from `data`."""
    order = data.draw(st.permutations(sent))
    stream = order + (data.draw(st.lists(st.sampled_from(sent), max_size=5)) if sent else [])
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=3)))
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        if stream[start:end]:
            ingest_batch(workspace, stream[start:end])


def assert_cards_read_as_rows(test, workspace, cards, now, raw_result, table):
    """Each card costs one query and gives what reading every row gives (`raw_result`); hypothesis
    records whether it read the roll-up `table`."""
    for card in cards:
        with CaptureQueriesContext(connection) as queries:
            result = evaluate(card, workspace, now=now)
        test.assertEqual(len(queries), 1)
        event(f"read {table}" if table in queries[0]["sql"] else "read the rows")
        test.assertEqual(result, raw_result(card, workspace), card.__dict__)
