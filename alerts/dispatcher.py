"""Sends the outbox: one worker per channel, so a failing channel never delays another.

Per row: send → ``sent``; 5xx / 408 / 425 / 429 / timeouts / network errors → retried with exponential
backoff and jitter (429: not before ``Retry-After``, itself capped by the channel's ``retry_after_max``);
other statuses → ``failed`` at once. A row is marked only after the receiver answered, so a crash (even
SIGKILL) re-sends just the rows that were in flight. Several dispatchers may run on one store: each row
is claimed by one of them (:func:`alerts.outbox.claim`), and every attempt of a row carries the same
``Idempotency-Key`` header.

Run alone: ``HEADROOM_STORE_URL=URL python -m alerts.dispatcher --config alerts.yaml`` (the ``alerts`` section;
``--store URL`` works too, but puts a store password where every local user can read it).
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Connection, Engine

from alerts import outbox, selfmetrics
from alerts.channels import send
from alerts.channels.config import ChannelBase
from alerts.channels.http import SendResult, install_log_redaction
from alerts.channels.netguard import GuardedClient
from alerts.config import AlertsConfig

log = logging.getLogger("alerts.dispatcher")

IDLE_POLL = 0.2
LEASE_MARGIN = 5.0  # SQLite: a claimed row is leased for the channel's timeout plus this


class RateLimiter:
    """Token bucket: `per_minute` sends per minute, bursts of `burst`."""

    def __init__(self, per_minute: float, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(burst)
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def wait_time(self) -> float:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1.0


class ChannelWorker(threading.Thread):
    def __init__(
        self,
        st: object,
        channel: ChannelBase,
        allow_private: bool,
        stop: threading.Event,
        wake: threading.Event,
    ) -> None:
        super().__init__(name=f"alerts-{channel.name}", daemon=True)
        self.st = st
        self.channel = channel
        self.allow_private = allow_private
        self.stop_event = stop
        self.wake = wake
        self.limiter = RateLimiter(channel.rate_limit_per_minute, channel.rate_limit_burst)
        self.rng = random.Random()

    def run(self) -> None:
        with GuardedClient() as client:
            while not self.stop_event.is_set():
                try:
                    delay = self.step(client)
                except Exception as exc:  # a store hiccup must not kill the worker
                    log.error("channel %s: dispatch error: %s", self.channel.name, type(exc).__name__)
                    delay = 1.0
                if delay > 0:
                    self.wake.wait(delay)
                    self.wake.clear()

    def step(self, client: GuardedClient) -> float:
        """Send at most one row; returns how long to wait before the next step."""
        engine = self.st.engine  # type: ignore[attr-defined]
        wait = self.limiter.wait_time()
        if wait > 0:
            return min(wait, IDLE_POLL)
        with engine.connect() as conn:
            now = self.st.clock()  # type: ignore[attr-defined]
            due, soonest = outbox.due_rows(conn, self.channel.name, now)
        if not due:
            return _idle(soonest, now)
        if engine.dialect.name == "postgresql":
            # the claimed row stays locked until the transaction that sends it records it
            with engine.begin() as conn:
                row = next((r for r in due if outbox.lock_row(conn, r.id)), None)
                if row is not None:
                    self._record(conn, row, self._send(client, row))
            return 0.0 if row is not None else IDLE_POLL
        # SQLite: a lease, taken in its own short transaction; the send happens outside any transaction
        until = now + self.channel.timeout + LEASE_MARGIN
        row = next((r for r in due if self._lease(engine, r.id, now, until)), None)
        if row is None:
            return IDLE_POLL
        result = self._send(client, row)
        with engine.begin() as conn:
            self._record(conn, row, result)
        return 0.0

    @staticmethod
    def _lease(engine: Engine, row_id: int, now: float, until: float) -> bool:
        with engine.begin() as conn:
            return outbox.lease_row(conn, row_id, now, until)

    def _send(self, client: GuardedClient, row: outbox.OutboxRow) -> SendResult:
        self.limiter.take()
        return send(client, self.channel, row.payload, self.allow_private, outbox.idempotency_key(row))

    def _record(self, conn: Connection, row: outbox.OutboxRow, result: SendResult) -> None:
        done = self.st.clock()  # type: ignore[attr-defined]
        if result.outcome == "ok":
            outbox.mark_sent(conn, row.id, done)
            outcome = "sent"
        elif result.outcome == "retry" and done - row.created_at < self.channel.retry_for:
            delay = outbox.backoff(row.attempts + 1, self.rng)
            if result.retry_after is not None:
                delay = max(delay, min(result.retry_after, self.channel.retry_after_max))
            outbox.mark_retry(conn, row.id, done + delay, result.error or "retry")
            outcome = "retried"
            log.warning(
                "channel %s: %s notification %d will be retried in %.1fs: %s",
                self.channel.name,
                row.kind,
                row.id,
                delay,
                result.error,
            )
        else:
            outbox.mark_failed(conn, row.id, result.error or "failed")
            outcome = "failed"
            log.error(
                "channel %s: %s notification %d failed: %s", self.channel.name, row.kind, row.id, result.error
            )
        selfmetrics.NOTIFICATIONS.labels(self.channel.name, outcome).inc()


def _idle(soonest: float | None, now: float) -> float:
    return IDLE_POLL if soonest is None else max(0.0, min(IDLE_POLL, soonest - now))


class Dispatcher:
    """Starts one worker thread per configured channel."""

    def __init__(self, st: object, cfg: AlertsConfig) -> None:
        install_log_redaction()
        self.stop_event = threading.Event()
        self.wake = threading.Event()
        self.workers = [
            ChannelWorker(st, channel, cfg.allow_private_webhook_hosts, self.stop_event, self.wake)
            for channel in cfg.channels
        ]
        selfmetrics.known_channels(c.name for c in cfg.channels)

    def start(self) -> None:
        for worker in self.workers:
            worker.start()

    def notify(self) -> None:
        """Wake the workers (new rows were enqueued)."""
        self.wake.set()

    def stop(self, timeout: float = 15.0) -> None:
        self.stop_event.set()
        self.wake.set()
        deadline = time.monotonic() + timeout
        for worker in self.workers:
            worker.join(max(0.0, deadline - time.monotonic()))


def main(argv: Sequence[str] | None = None) -> int:
    from alerts.rules import RuleFileError, load_yaml_model
    from store import open_store

    parser = argparse.ArgumentParser(prog="python -m alerts.dispatcher", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--store",
        default=os.environ.get("HEADROOM_STORE_URL"),
        help="store URL (sqlite:///... or postgresql+psycopg://...); default: $HEADROOM_STORE_URL, "
        "which keeps a password off the command line",
    )
    parser.add_argument("--config", required=True, type=Path, help="YAML file with the alerts section")
    args = parser.parse_args(argv)
    if not args.store:
        parser.error("--store (or HEADROOM_STORE_URL) is required")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        cfg = load_yaml_model(args.config, AlertsConfig)
    except RuleFileError as exc:
        print(exc)
        return 2
    st = open_store(args.store)
    dispatcher = Dispatcher(st, cfg)
    dispatcher.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        dispatcher.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
