"""Synthetic activity for the demo and test stores: two hours of 10 s DB-load buckets per PostgreSQL
target (a spike of lock waits in the middle), and a newest snapshot with a blocking chain whose root
runs a query with markup in it (the page must show it as text)."""

from __future__ import annotations

from typing import Any

from store.activity import ActivityBucket, ActivityRow
from store.api import Store

HOSTILE_QUERY = "UPDATE orders SET note = '<b>x</b> <!channel> *bold*' WHERE id = 1"
SPAN_S = 2 * 3600
STEP_S = 30


def _rows(i: int, ts: int, end: int) -> list[ActivityRow]:
    spike = abs(ts - (end - SPAN_S // 2)) < 300
    phase = (ts // STEP_S + i) % 6
    return [
        ActivityRow("CPU", "CPU", "q0", "app_user", "app", "10.0.0.7", 1.0 + phase / 5),
        ActivityRow("IO", "DataFileRead", "q1", "app_user", "app", "10.0.0.7", 0.4 + phase / 10),
        ActivityRow("Client", "ClientRead", "q2", "report", "app", "10.0.0.9", 0.2),
        ActivityRow("Lock", "transactionid", "q3", "app_user", "app", "10.0.0.8", 3.0 if spike else 0.1),
    ]


def _snapshot(now: int) -> list[dict[str, Any]]:
    def session(pid: int, state: str, query: str, **extra: Any) -> dict[str, Any]:
        base = {
            "pid": pid,
            "user": "app_user",
            "db": "app",
            "client": "10.0.0.8",
            "state": state,
            "active": state == "active",
            "wait_class": "",
            "wait_event": "",
            "queryid": "q3",
            "query": query,
            "xact_age": 95.0,
            "query_age": 90.0,
            "state_age": 90.0,
            "blockers": [],
        }
        return base | extra

    return [
        session(
            4101,
            "idle in transaction",
            HOSTILE_QUERY,
            blocking=True,
            lock_mode="ExclusiveLock",
            lock_target="transactionid 7310",
            xact_age=400.0,
            state_age=380.0,
        ),
        session(
            4102,
            "active",
            "UPDATE orders SET note = 'b' WHERE id = 1",
            wait_class="Lock",
            wait_event="transactionid",
            blockers=[4101],
            blocking=True,
            lock_mode="ShareLock",
            lock_target="transactionid 7310",
            wait_age=75.0,
        ),
        session(
            4103,
            "active",
            "UPDATE orders SET note = 'c' WHERE id = 1",
            wait_class="Lock",
            wait_event="tuple",
            blockers=[4102],
            lock_mode="ExclusiveLock",
            lock_target="tuple public.orders (0,1)",
            wait_age=60.0,
        ),
        session(
            4104, "active", "SELECT count(*) FROM orders", wait_class="CPU", wait_event="CPU", query_age=120.0
        ),
    ]


def populate_activity(store: Store, targets: list[str], end: int) -> None:
    for i, name in enumerate(targets):
        first = end - SPAN_S - (end - SPAN_S) % 10
        for ts in range(first, end - 10, STEP_S):
            store.write_activity(ActivityBucket(name, ts, _rows(i, ts, end)))
        last = end - end % 10 - 10
        store.write_activity(ActivityBucket(name, last, _rows(i, last, end), _snapshot(last)))
