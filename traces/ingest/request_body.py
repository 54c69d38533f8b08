"""Reading an ingest request's body: sized or chunked, plain, gzip or deflate, never past a limit."""

import zlib

CHUNK = 64 * 1024
GZIP = ("gzip", "x-gzip")
DEFLATE = ("deflate",)
ENCODINGS = ("identity", "", *GZIP, *DEFLATE)


class BodyError(Exception):
    """A body that cannot be read: the HTTP status, the field (or header) to name, and why."""

    def __init__(self, status, field, detail):
        super().__init__(detail)
        self.status, self.field, self.detail = status, field, detail


def read_body(request, limit):
    """The request body, decoded as its Content-Encoding says; None when it is larger than `limit` bytes,
    sent or decoded (a small compressed body that inflates past the limit is stopped there).

    Raises BodyError for an encoding other than gzip, deflate or none (415) and for a body that is
    not in its declared encoding (400).
    """
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ENCODINGS:
        raise BodyError(415, "Content-Encoding", f"{encoding!r} is not supported: send gzip, deflate or none")
    body = raw_body(request, limit)
    if body is None or encoding in ("identity", ""):
        return body
    if encoding in GZIP:
        return inflate(body, limit, zlib.MAX_WBITS | 16, "gzip")
    # HTTP's deflate is the zlib format (RFC 9110); some clients send bare deflate data.
    return inflate(body, limit, zlib.MAX_WBITS if is_zlib(body) else -zlib.MAX_WBITS, "deflate")


def raw_body(request, limit):
    """The bytes sent, or None past `limit`. A body sent with Transfer-Encoding: chunked has no
    Content-Length, and Django reads such a body as empty: it is read from the server's input stream,
    which the server (gunicorn) de-chunks and ends."""
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isdigit() and int(declared) > limit:
        return None
    if not declared and is_chunked(request):
        body = read_stream(request.META["wsgi.input"], limit)
    else:
        body = request.body
    return None if body is None or len(body) > limit else body


def is_chunked(request):
    meta = request.META
    if "wsgi.input" not in meta:
        return False
    return "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower() or bool(
        meta.get("wsgi.input_terminated")
    )


def read_stream(stream, limit):
    """Up to limit + 1 bytes of a stream, read in chunks; None when there are more than `limit`."""
    parts, size = [], 0
    while size <= limit:
        part = stream.read(min(CHUNK, limit + 1 - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    return None if size > limit else b"".join(parts)


def is_zlib(data):
    return len(data) >= 2 and data[0] & 0x0F == 8 and ((data[0] << 8) | data[1]) % 31 == 0


def inflate(data, limit, wbits, name):
    """Decompress one or more concatenated members, stopping one byte past `limit` (then None)."""
    parts, size = [], 0
    while True:
        inflater = zlib.decompressobj(wbits)
        try:
            part = inflater.decompress(data, limit + 1 - size)
        except zlib.error as exc:
            raise BodyError(400, "Content-Encoding", f"the body is not valid {name}: {exc}") from None
        parts.append(part)
        size += len(part)
        if size > limit:
            return None
        if not inflater.eof:
            raise BodyError(400, "Content-Encoding", f"the body is not valid {name}: it ends early")
        data = inflater.unused_data
        if not data or name != "gzip":
            break
    return b"".join(parts)
