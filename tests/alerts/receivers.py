"""Real local HTTP receivers that answer like Slack incoming webhooks and PagerDuty Events API v2.

Each receiver is a threaded HTTP server on 127.0.0.1 and a free port. Replies come from a script
(consumed in order), then from the flavour's default behaviour:

- slack: 200 ``ok``; 400 ``invalid_payload`` when the body is not JSON or has neither ``text`` nor blocks;
- pagerduty: 202 ``{"status": "success", "message": "Event processed", "dedup_key": ...}``; 400
  ``{"status": "invalid event", ...}`` when routing_key / event_action / dedup_key (resolve) / payload
  summary, source or severity are missing or the summary is longer than 1024 characters;
- generic: 200 with an empty JSON object.

Status codes 100–199 are sent as an interim status line after which the connection is closed
(no final response, as a broken proxy would do). ``Reply(drip=0.5)`` sends the answer one byte every
0.5 s (a receiver that holds its client); ``Received.bytes_sent`` says how much of it got out.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GATE_LIMIT = 120.0
SLACK_ERRORS = {
    400: "invalid_payload",
    403: "action_prohibited",
    404: "channel_not_found",
    410: "channel_is_archived",
    429: "rate_limited",
    500: "rollup_error",
}


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict[str, Any] | None = None  # None: the flavour's usual body for this status
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (a slow or timing-out receiver)
    when: Callable[[bytes], bool] | None = None  # only for requests whose body matches (else skipped)
    drip: float = 0.0  # > 0: send the answer one byte at a time, this many seconds apart
    gate: threading.Event | None = None  # hold the answer until this is set (at most GATE_LIMIT s)


@dataclass
class Received:
    ts: float
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what we answered (0 if the answer could not be written)
    bytes_sent: int = 0  # of the answer (status line, headers and body)

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self, flavour: str = "generic") -> None:
        if flavour not in ("slack", "pagerduty", "generic"):
            raise ValueError(f"unknown flavour {flavour!r}")
        self.flavour = flavour
        self.script: deque[Reply] = deque()
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver._handle(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # --- control -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def push(self, *replies: Reply) -> None:
        with self.lock:
            self.script.extend(replies)

    def accepted(self) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if 200 <= r.status < 300]

    def wait_for(self, count: int, timeout: float = 30.0, accepted_only: bool = True) -> list[Received]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = self.accepted() if accepted_only else list(self.requests)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(
            f"{self.flavour} receiver got {len(found)} requests, expected {count} within {timeout}s"
        )

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- behaviour -----------------------------------------------------------------------------
    def _default(self, body: bytes) -> Reply:
        if self.flavour == "slack":
            try:
                doc = json.loads(body)
            except ValueError:
                return Reply(400, "invalid_payload")
            if not isinstance(doc, dict) or not (
                doc.get("text") or doc.get("blocks") or doc.get("attachments")
            ):
                return Reply(400, "no_text")
            return Reply(200, "ok")
        if self.flavour == "pagerduty":
            return self._pagerduty(body)
        return Reply(200, {})

    def _pagerduty(self, body: bytes) -> Reply:
        def invalid(error: str) -> Reply:
            return Reply(
                400, {"status": "invalid event", "message": "Event object is invalid", "errors": [error]}
            )

        try:
            event = json.loads(body)
        except ValueError:
            return invalid("Body is not valid JSON")
        if not isinstance(event, dict) or not event.get("routing_key"):
            return invalid("'routing_key' is missing or blank")
        action = event.get("event_action")
        if action not in ("trigger", "acknowledge", "resolve"):
            return invalid("'event_action' is invalid")
        if action == "trigger":
            payload = event.get("payload") or {}
            for key in ("summary", "source", "severity"):
                if not payload.get(key):
                    return invalid(f"'payload.{key}' is missing or blank")
            if len(payload["summary"]) > 1024:
                return invalid("'payload.summary' is longer than 1024 characters")
            if payload["severity"] not in ("critical", "error", "warning", "info"):
                return invalid("'payload.severity' is invalid")
        elif not event.get("dedup_key"):
            return invalid("'dedup_key' is missing or blank")
        return Reply(
            202,
            {
                "status": "success",
                "message": "Event processed",
                "dedup_key": event.get("dedup_key") or "generated",
            },
        )

    def _usual_body(self, status: int) -> bytes | str | dict[str, Any]:
        if self.flavour == "slack":
            return SLACK_ERRORS.get(status, "ok" if status < 300 else "error")
        if self.flavour == "pagerduty":
            if status == 429:
                return {
                    "status": "throttle event",
                    "message": "Requests for this service are arriving too quickly.",
                }
            if 200 <= status < 300:
                return {"status": "success", "message": "Event processed", "dedup_key": "x"}
            return {"status": "error", "message": f"status {status}"}
        return {}

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        reply = None
        with self.lock:
            for i, candidate in enumerate(self.script):
                if candidate.when is None or candidate.when(body):
                    reply = candidate
                    del self.script[i]
                    break
        if reply is None:
            reply = self._default(body)
        elif reply.body is None:
            reply = Reply(
                reply.status,
                self._usual_body(reply.status),
                reply.headers,
                reply.delay,
                drip=reply.drip,
                gate=reply.gate,
            )
        record = Received(
            time.time(), handler.path, {k.lower(): v for k, v in handler.headers.items()}, body, 0
        )
        with self.lock:
            self.requests.append(record)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.gate is not None:
            reply.gate.wait(GATE_LIMIT)
        try:
            if reply.status < 200:
                handler.wfile.write(f"HTTP/1.1 {reply.status} Interim\r\n\r\n".encode())
                handler.wfile.flush()
                handler.close_connection = True
                record.status = reply.status
                return
            data = reply.body
            if isinstance(data, dict):
                payload, ctype = json.dumps(data).encode(), "application/json"
            else:
                payload, ctype = (
                    (data or "").encode() if isinstance(data, str) else (data or b""),
                    "text/plain",
                )
            # One write for status line, headers and body (two small writes meet Nagle + delayed ACK).
            head = [
                f"HTTP/1.1 {reply.status} {handler.responses.get(reply.status, ('Status',))[0]}",
                f"Content-Type: {ctype}",
                f"Content-Length: {len(payload)}",
            ]
            head += [f"{key}: {value}" for key, value in reply.headers.items()]
            raw = ("\r\n".join(head) + "\r\n\r\n").encode()
            answer = raw + (payload if reply.status not in (204, 304) else b"")
            if reply.drip:
                for i in range(len(answer)):
                    handler.wfile.write(answer[i : i + 1])
                    handler.wfile.flush()
                    record.bytes_sent = i + 1
                    time.sleep(reply.drip)
            else:
                handler.wfile.write(answer)
                handler.wfile.flush()
                record.bytes_sent = len(answer)
            record.status = reply.status
        except (BrokenPipeError, ConnectionResetError):
            record.status = 0
