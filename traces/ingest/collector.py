"""An ingest request runs without Python's cycle collector.

A batch builds hundreds of thousands of short-lived objects (decoded spans, events, bodies, row
values), freed by reference counting as the request ends. While they are alive, the collector's
allocation thresholds keep firing and every full collection walks all of them again: ~12 % of a
500-span OTLP request's CPU, half of it under the workspace lock. Paused for the request, the few
cycles it leaves are collected afterwards, when there is little left to walk.
"""

import contextlib
import gc


@contextlib.contextmanager
def paused():
    """Run the block with the cycle collector off, and turn it back on after (if it was on: a request
    served beside another on a thread leaves it to the one that turned it off)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
