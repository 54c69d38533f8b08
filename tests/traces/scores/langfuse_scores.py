"""Run by the Langfuse SDK's own interpreter (tests/conformance venvs): check the keys, then give the
scores a user gives, to the trace and the span that TRACE_ID and SPAN_ID name. The SDK logs to
stderr from WARNING up; the test reads it."""

import logging
import os
import sys

from langfuse import Langfuse

logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")

langfuse = Langfuse()
if not langfuse.auth_check():
    sys.exit("auth_check() failed")
trace_id, span_id = os.environ["TRACE_ID"], os.environ["SPAN_ID"]
langfuse.create_score(
    name="helpfulness", value=4, trace_id=trace_id, data_type="NUMERIC", comment="clear", score_id="lf-num"
)
langfuse.create_score(
    name="tone", value="rude", trace_id=trace_id, data_type="CATEGORICAL", score_id="lf-cat"
)
langfuse.create_score(
    name="hallucination", value=0, trace_id=trace_id, data_type="BOOLEAN", score_id="lf-bool"
)
langfuse.create_score(
    name="helpfulness", value=3, trace_id=trace_id, observation_id=span_id, score_id="lf-span"
)
langfuse.flush()
langfuse.shutdown()
print("scored")
