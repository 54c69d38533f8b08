"""A capture receiver: stands where Backoffice would and keeps every POST exactly as it came.

Each request is kept as (path, content type, content encoding, user agent, body bytes), the body
as sent (still gzipped when it was), so a replay posts the very bytes the package produced. It
answers as a collector would: an empty protobuf or `{}` for OTLP, a batch tally for the Backoffice
ingest API, so no client retries or logs an error.
"""

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Capture:
    path: str
    content_type: str
    content_encoding: str
    user_agent: str
    body: bytes


class Receiver:
    def __init__(self):
        self.captures = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        handler = type("CaptureHandler", (_Handler,), {"receiver": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_port}"

    def keep(self, capture):
        with self._changed:
            self.captures.append(capture)
            self._changed.notify_all()

    def settled(self, quiet=1.0, timeout=15.0):
        """Wait until no request has come for `quiet` seconds (exporters flushing at exit)."""
        with self._changed:
            waited = 0.0
            while waited < timeout:
                before = len(self.captures)
                self._changed.wait(quiet)
                if len(self.captures) == before:
                    return
                waited += quiet

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    receiver = None

    def log_message(self, *args):
        pass

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if not size:
                    self.rfile.readline()
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def answer(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        # Langfuse checks its keys against the project list; anything else is not needed.
        if self.path.startswith("/api/public/projects"):
            self.answer(
                200,
                json.dumps({"data": [{"id": "conformance", "name": "conformance"}]}).encode(),
                "application/json",
            )
            return
        self.answer(404, b"{}", "application/json")

    def do_POST(self):
        body = self.read_body()
        path = self.path.split("?")[0]
        content_type = self.headers.get("Content-Type") or ""
        self.receiver.keep(
            Capture(
                path=path,
                content_type=content_type,
                content_encoding=self.headers.get("Content-Encoding") or "",
                user_agent=self.headers.get("User-Agent") or "",
                body=body,
            )
        )
        if path == "/api/v1/ingest":
            self.answer(
                202, json.dumps({"accepted": 0, "rejected": 0, "results": []}).encode(), "application/json"
            )
        elif "protobuf" in content_type:
            self.answer(200, b"", "application/x-protobuf")
        else:
            self.answer(200, b"{}", "application/json")
