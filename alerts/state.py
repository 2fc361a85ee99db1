"""Persisted alert state (``alert_state``), history (``alert_history``) and group states (``meta``)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, delete, insert, select, tuple_

from alerts.model import Alert, GroupState, Transition
from store import schema

GROUP_PREFIX = "alerts.group."


def _alert_from_row(row: Mapping[str, Any]) -> Alert:
    return Alert(
        rule=str(row["rule"]),
        labels=json.loads(str(row["labels_json"])),
        labels_hash=str(row["labels_hash"]),
        state=str(row["state"]),
        active_since=row["active_since"],
        fired_at=row["fired_at"],
        resolved_at=row["resolved_at"],
        last_eval=int(row["last_eval"]),
        last_true=row["last_true"],
        value=row["value"],
        severity=str(row["severity"]),
        annotations=json.loads(str(row["annotations_json"] or "{}")),
        last_notified_at=row["last_notified_at"],
    )


def load_alerts(conn: Connection) -> dict[tuple[str, str], Alert]:
    rows = conn.execute(select(schema.alert_state)).mappings()
    return {(str(r["rule"]), str(r["labels_hash"])): _alert_from_row(dict(r)) for r in rows}


def _alert_row(alert: Alert) -> dict[str, object]:
    return {
        "rule": alert.rule,
        "labels_hash": alert.labels_hash,
        "labels_json": json.dumps(dict(alert.labels), sort_keys=True),
        "state": alert.state,
        "active_since": alert.active_since,
        "fired_at": alert.fired_at,
        "resolved_at": alert.resolved_at,
        "last_eval": alert.last_eval,
        "last_true": alert.last_true,
        "value": alert.value,
        "severity": alert.severity,
        "annotations_json": json.dumps(dict(alert.annotations), sort_keys=True),
        "last_notified_at": alert.last_notified_at,
    }


def save_alerts(
    conn: Connection,
    alerts: Mapping[tuple[str, str], Alert],
    dropped: Iterable[tuple[str, str]],
    transitions: Iterable[Transition],
) -> None:
    """Replace the stored state of `alerts`, delete `dropped`, append `transitions` to the history."""
    t = schema.alert_state
    keys = list(alerts) + list(dropped)
    for start in range(0, len(keys), 200):
        chunk = keys[start : start + 200]
        conn.execute(delete(t).where(tuple_(t.c.rule, t.c.labels_hash).in_(chunk)))
    if alerts:
        conn.execute(insert(t), [_alert_row(a) for a in alerts.values()])
    history = [
        {
            "rule": tr.alert.rule,
            "labels_hash": tr.alert.labels_hash,
            "labels_json": json.dumps(dict(tr.alert.labels), sort_keys=True),
            "from_state": tr.from_state,
            "to_state": tr.to_state,
            "ts": tr.ts,
            "value": tr.alert.value,
            "severity": tr.alert.severity,
            "annotations_json": json.dumps(dict(tr.alert.annotations), sort_keys=True),
        }
        for tr in transitions
    ]
    if history:
        conn.execute(insert(schema.alert_history), history)


def load_groups(conn: Connection) -> dict[str, GroupState]:
    m = schema.meta
    rows = conn.execute(select(m.c.key, m.c.value).where(m.c.key.like(GROUP_PREFIX + "%")))
    return {key[len(GROUP_PREFIX) :]: GroupState.from_json(value) for key, value in rows}


def save_groups(conn: Connection, groups: Mapping[str, GroupState], removed: Iterable[str]) -> None:
    m = schema.meta
    keys = [GROUP_PREFIX + g for g in list(groups) + list(removed)]
    for start in range(0, len(keys), 200):
        conn.execute(delete(m).where(m.c.key.in_(keys[start : start + 200])))
    if groups:
        conn.execute(insert(m), [{"key": GROUP_PREFIX + g, "value": s.to_json()} for g, s in groups.items()])
