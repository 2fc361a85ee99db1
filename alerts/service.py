"""``headroom alerts``: evaluate the rules every ``evaluation_interval`` and dispatch the outbox.

One cycle = read a snapshot → evaluate → route → in ONE transaction: alert states, history,
group states and the outbox rows. The dispatcher threads send the outbox independently.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from alerts import channels, outbox, selfmetrics
from alerts.config import AlertsConfig
from alerts.dispatcher import Dispatcher
from alerts.evaluator import evaluate
from alerts.model import OutboxItem, Transition
from alerts.routing import plan
from alerts.rules import RuleFileError, configured_rules
from alerts.rules.models import Rule
from alerts.silences import active_silences
from alerts.snapshot import take_snapshot
from alerts.state import load_alerts, load_groups, save_alerts, save_groups
from headroom_core.redact import redact_text
from store.api import Store, open_configured_store
from store.changes import SampleWatch
from store.clock import Clock, system_clock
from store.config import StoreSettings

log = logging.getLogger("alerts.service")


@dataclass(frozen=True, slots=True)
class CycleResult:
    transitions: list[Transition]
    enqueued: list[OutboxItem]
    muted: dict[tuple[str, str], str]
    firing: int


def run_cycle(st: Store, cfg: AlertsConfig, rules: list[Rule], now: int | None = None) -> CycleResult:
    """Evaluate once as of ``now`` (default: the store's clock) and persist the outcome atomically."""
    now = int(st.clock()) if now is None else now
    snapshot = take_snapshot(st, rules, now)
    by_name = {c.name: c for c in cfg.channels}
    with st.engine.begin() as conn:
        prior = load_alerts(conn)
        result = evaluate(rules, snapshot, prior, cfg.resolved_retention)
        silences = active_silences(conn, now)
        routing = plan(result.alerts.values(), cfg, load_groups(conn), silences, now)
        items: list[OutboxItem] = []
        for note in routing.notifications:
            items.extend(channels.render(by_name[note.channel], note, cfg.dashboard_url))
        notified = {a.key for n in routing.notifications for a in n.firing + n.resolved}
        alerts = {
            key: (a if key not in notified else _with_notified(a, now)) for key, a in result.alerts.items()
        }
        save_alerts(conn, alerts, result.dropped, result.transitions)
        save_groups(conn, routing.groups, routing.removed_groups)
        outbox.enqueue(conn, items, now)
    for tr in result.transitions:
        log.info(
            "alert %s %s → %s %s",
            tr.alert.rule,
            tr.from_state,
            tr.to_state,
            ",".join(f"{k}={v}" for k, v in sorted(tr.alert.labels.items()) if k not in ("alertname",)),
        )
    firing = sum(1 for a in result.alerts.values() if a.state == "firing")
    return CycleResult(result.transitions, items, routing.muted, firing)


def _with_notified(alert: Any, now: int) -> Any:
    from dataclasses import replace

    return replace(alert, last_notified_at=now)


#: evaluations woken by new samples are at least this far apart (a SQLite store also wakes on the
#: dispatcher's own writes)
WAKE_MIN_SPACING_S = 0.5


def rules_of(cfg: AlertsConfig) -> list[Rule]:
    return configured_rules(cfg.rules, cfg.rule_files, cfg.default_rules, cfg.disabled_rules)


def serve(st: Store, cfg: AlertsConfig, once: bool = False, stop: threading.Event | None = None) -> int:
    """Evaluate + dispatch until `stop` is set (or one cycle and a drain when `once`); "now" is the
    store's clock (``open_store(..., clock=...)``).

    Returns 0, or 2 when a rule file is invalid (its ``file:line: field: message`` lines are logged)."""
    try:
        rules = rules_of(cfg)
    except RuleFileError as exc:
        for line in exc.lines:
            log.error("%s", line)
        return 2
    dispatcher = Dispatcher(st, cfg)
    dispatcher.start()
    stop = stop or threading.Event()
    clock = st.clock
    watch = None if once else SampleWatch(st.engine)
    try:
        while True:
            started = clock()
            begun = time.monotonic()
            try:
                with selfmetrics.EVALUATION_SECONDS.time():
                    cycle = run_cycle(st, cfg, rules, int(started))
                selfmetrics.EVALUATIONS.labels("ok").inc()
                selfmetrics.FIRING.set(cycle.firing)
                if cycle.enqueued:
                    dispatcher.notify()
            except Exception as exc:
                selfmetrics.EVALUATIONS.labels("error").inc()
                log.error("evaluation failed: %s: %s", type(exc).__name__, redact_text(str(exc), ()))
                if once:
                    return 1
            if once:
                _drain(st, cfg, timeout=max(10.0, cfg.evaluation_interval))
                return 0
            if _wait_for_samples(watch, stop, begun, cfg.evaluation_interval):
                return 0
    finally:
        dispatcher.stop()
        if watch is not None:
            watch.close()


def _wait_for_samples(
    watch: SampleWatch | None, stop: threading.Event, begun: float, interval: float
) -> bool:
    """Until new samples land or the evaluation interval is over, whichever is first (cycles at least
    :data:`WAKE_MIN_SPACING_S` apart). True when ``stop`` was set."""
    left = max(0.0, interval - (time.monotonic() - begun))
    if watch is None:
        return stop.wait(left)
    watch.rebase()  # this cycle's own writes (alert states, the outbox) are not news
    if watch.wait(left, stop):
        spacing = WAKE_MIN_SPACING_S - (time.monotonic() - begun)
        if spacing > 0:
            return stop.wait(spacing)
    return stop.is_set()


def _drain(st: Store, cfg: AlertsConfig, timeout: float) -> None:
    """Wait until nothing is due right now and nothing is being sent (retries scheduled later are left
    for the next run)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with st.engine.connect() as conn:
            now = st.clock()
            due = [outbox.next_due(conn, c.name, now)[0] for c in cfg.channels]
            sending = outbox.in_flight(conn, now)
        if not any(due) and not sending:  # a leased row is still being sent: wait for its outcome
            return
        time.sleep(0.1)


class AlertingConfig(StoreSettings, Protocol):
    """What ``headroom alerts`` reads of the whole configuration."""

    @property
    def alerts(self) -> AlertsConfig: ...


def run_alerts(cfg: AlertingConfig, once: bool = False, clock: Clock = system_clock) -> int:
    """Entry point of ``headroom alerts`` (`cfg`: the whole Headroom configuration); ``clock`` is
    "now" for evaluation, silences and the outbox."""
    st = open_configured_store(cfg, clock=clock)
    stop = threading.Event()
    if not once and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    return serve(st, cfg.alerts, once=once, stop=stop)
