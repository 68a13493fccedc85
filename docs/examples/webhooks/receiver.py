#!/usr/bin/env python3
"""A Quick Connect Chat webhook receiver (Python 3.11, standard library only).

    QC_WEBHOOK_SECRET=<the server's secret> python3 receiver.py

Verifies each POST's QC-Signature, drops repeated deliveries by event id and
prints every new event on stdout as one compact JSON line. Environment:
QC_WEBHOOK_SECRET (required), PORT (8080; 0 picks a free one), HOST
(127.0.0.1), QC_WEBHOOK_TOLERANCE_SECS (300). See docs/integrations.md.
"""
import hashlib
import hmac
import json
import os
import signal
import sys
import threading
import time
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def verify_signature(secret: str, header: str | None, body: bytes,
                     tolerance: int = 300, now: int | None = None) -> bool:
    """True when `header` (the QC-Signature value) signs `body` with `secret`.

    The header is "t=<unix seconds>,v1=<hex>[,v1=<hex>...]": v1 is the hex
    HMAC-SHA256, keyed with the secret, of "<t>." followed by the body. Accepts
    when t is within `tolerance` seconds of `now` (default: the clock) and any
    one v1 matches (several may be sent while a secret is being rotated).
    `body` must be the raw request body exactly as received, never JSON
    parsed and serialized again.
    """
    if not header:
        return False
    t, candidates = None, []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep or (key == "t" and t is not None):
            return False  # not key=value, or a second t
        if key == "t":
            t = value
        elif key == "v1":
            candidates.append(value)
    if t is None or not (t.isascii() and t.isdigit()) or not candidates:
        return False
    now = int(time.time()) if now is None else now
    if abs(now - int(t)) > tolerance:
        return False  # too old or too far ahead: a replay, or a wrong clock
    expected = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected.encode(), c.encode("utf-8", "replace"))
               for c in candidates)


MAX_BODY = 1024 * 1024  # bytes
SEEN_MAX = 10_000       # event ids remembered for deduplication
seen: OrderedDict[str, None] = OrderedDict()
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    timeout = 30  # seconds a stalled connection is kept

    def reply(self, status: int, body: dict, reason: str | None = None) -> None:
        if reason:
            print(f"receiver: {status}: {reason}", file=sys.stderr, flush=True)
        data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        if "Transfer-Encoding" in self.headers:  # http.server reads Content-Length bodies only
            self.close_connection = True
            return self.reply(411, {"error": "Content-Length required"}, "chunked body refused")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            return self.reply(400, {"error": "bad Content-Length"}, "bad Content-Length")
        if length > MAX_BODY:
            self.close_connection = True
            while 0 < length <= 64 * MAX_BODY and self.rfile.read(min(length, 65536)):
                length -= 65536  # read away (never kept), so the sender gets to read the 413
            return self.reply(413, {"error": "body over 1 MiB"}, "body over 1 MiB refused")
        body = self.rfile.read(length)  # the raw bytes: what the signature covers
        header = self.headers.get("QC-Signature")
        if not verify_signature(SECRET, header, body, TOLERANCE):
            why = "no QC-Signature header" if header is None else (
                f"QC-Signature {header!r} does not verify at {int(time.time())} (malformed, "
                f"t more than {TOLERANCE} s away, or no v1 matches)")
            return self.reply(401, {"error": "invalid signature"}, why)
        try:
            event = json.loads(body)  # only now, once the bytes are known to be ours
            event_id = event["id"]
            if not isinstance(event_id, str):
                raise ValueError
        except (ValueError, TypeError, KeyError):
            return self.reply(400, {"error": "not a JSON event"}, "signed body is not a JSON event")
        with lock:
            if event_id not in seen:  # at-least-once delivery: a repeat is acknowledged, not shown
                seen[event_id] = None
                if len(seen) > SEEN_MAX:
                    seen.popitem(last=False)
                print(json.dumps(event, separators=(",", ":")), flush=True)
        self.reply(200, {"ok": True})

    def __getattr__(self, name: str):
        if name.startswith("do_"):  # any other method
            return lambda: self.reply(405, {"error": "method not allowed"})
        raise AttributeError(name)

    def log_message(self, *args) -> None:  # no access log: stderr carries the refusals only
        pass


if __name__ == "__main__":
    def fail(message: str) -> None:
        print(f"receiver: {message}", file=sys.stderr)
        sys.exit(2)

    SECRET = os.environ.get("QC_WEBHOOK_SECRET", "")
    if not SECRET:
        fail("QC_WEBHOOK_SECRET is required (the same value as the server's)")
    try:
        TOLERANCE = int(os.environ.get("QC_WEBHOOK_TOLERANCE_SECS") or 300)
        port = int(os.environ.get("PORT") or 8080)
    except ValueError:
        fail("PORT and QC_WEBHOOK_TOLERANCE_SECS must be integers")
    server = ThreadingHTTPServer((os.environ.get("HOST") or "127.0.0.1", port), Handler)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: sys.exit(0))
    print(json.dumps({"listening": server.server_address[1]}), flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
