"""Sends the outbox: one worker per channel, so a failing channel never delays another.

Per row: send → ``sent``; 5xx / 408 / 425 / 429 / timeouts / network errors → retried with exponential
backoff and jitter (429: not before ``Retry-After``); other statuses → ``failed`` at once. A row is marked
only after the receiver answered, so a crash (even SIGKILL) re-sends just the rows that were in flight.

Run alone: ``python -m alerts.dispatcher --store URL --config alerts.yaml`` (the ``alerts`` section).
"""

from __future__ import annotations

import argparse
import logging
import random
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from alerts import outbox, selfmetrics
from alerts.channels import send
from alerts.channels.config import ChannelBase
from alerts.channels.http import install_log_redaction
from alerts.config import AlertsConfig

log = logging.getLogger("alerts.dispatcher")

IDLE_POLL = 0.2


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
    def __init__(self, st: object, channel: ChannelBase, allow_private: bool, stop: threading.Event,
                 wake: threading.Event) -> None:
        super().__init__(name=f"alerts-{channel.name}", daemon=True)
        self.st = st
        self.channel = channel
        self.allow_private = allow_private
        self.stop_event = stop
        self.wake = wake
        self.limiter = RateLimiter(channel.rate_limit_per_minute, channel.rate_limit_burst)
        self.rng = random.Random()

    def run(self) -> None:
        with httpx.Client(follow_redirects=False, trust_env=False) as client:
            while not self.stop_event.is_set():
                try:
                    delay = self.step(client)
                except Exception as exc:  # a store hiccup must not kill the worker
                    log.error("channel %s: dispatch error: %s", self.channel.name, type(exc).__name__)
                    delay = 1.0
                if delay > 0:
                    self.wake.wait(delay)
                    self.wake.clear()

    def step(self, client: httpx.Client) -> float:
        """Send at most one row; returns how long to wait before the next step."""
        engine = self.st.engine  # type: ignore[attr-defined]
        clock = self.st.clock  # type: ignore[attr-defined]
        now = clock()
        with engine.connect() as conn:
            row, soonest = outbox.next_due(conn, self.channel.name, now)
        if row is None:
            return IDLE_POLL if soonest is None else max(0.0, min(IDLE_POLL, soonest - now))
        wait = self.limiter.wait_time()
        if wait > 0:
            return min(wait, IDLE_POLL)
        self.limiter.take()
        result = send(client, self.channel, row.payload, self.allow_private)
        done = clock()
        with engine.begin() as conn:
            if result.outcome == "ok":
                outbox.mark_sent(conn, row.id, done)
                outcome = "sent"
            elif result.outcome == "retry" and done - row.created_at < self.channel.retry_for:
                outcome = "retried"
                delay = outbox.backoff(row.attempts + 1, self.rng)
                if result.retry_after is not None:
                    delay = max(delay, result.retry_after)
                outbox.mark_retry(conn, row.id, done + delay, result.error or "retry")
                log.warning("channel %s: %s notification %d will be retried in %.1fs: %s", self.channel.name,
                            row.kind, row.id, delay, result.error)
            else:
                outcome = "failed"
                outbox.mark_failed(conn, row.id, result.error or "failed")
                log.error("channel %s: %s notification %d failed: %s", self.channel.name, row.kind, row.id,
                          result.error)
        selfmetrics.NOTIFICATIONS.labels(self.channel.name, outcome).inc()
        return 0.0


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
    parser.add_argument("--store", required=True, help="store URL (sqlite:///... or postgresql+psycopg://...)")
    parser.add_argument("--config", required=True, type=Path, help="YAML file with the alerts section")
    args = parser.parse_args(argv)
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
