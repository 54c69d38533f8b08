"""A local HTTP receiver for the outbound tests (notifications, exports, replays): http.server in a
thread, recording what it gets."""

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict
    raw: bytes

    @property
    def body(self):
        return json.loads(self.raw)


class Receiver:
    """Answers each POST to `path` with the next of `answers` (a status, or (status, seconds to wait
    first)); 200 once they run out, and `error_body` with a status from 400. `received` lists the
    requests in order of arrival."""

    def __init__(self, answers=(), path="/hook", error_body=b""):
        self.answers = list(answers)
        self.received = []
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append(Received(self.path, dict(self.headers), raw))
                receiver.arrived.set()
                answer = receiver.answers.pop(0) if receiver.answers else 200
                status, wait = answer if isinstance(answer, tuple) else (answer, 0)
                time.sleep(wait)
                try:
                    self.send_response(status)
                    self.end_headers()
                    if status >= 400:
                        self.wfile.write(error_body)
                except OSError:
                    pass  # the sender went away while we waited

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}{path}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
