"""Plain data passed between the evaluator, the router, the outbox and the channels."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

INACTIVE, PENDING, FIRING, RESOLVED = "inactive", "pending", "firing", "resolved"


def labels_hash(rule: str, labels: Mapping[str, str]) -> str:
    """Identity of an alert: its rule and its labels (annotations never identify)."""
    text = json.dumps([rule, sorted(labels.items())], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def dedup_key(rule: str, lhash: str) -> str:
    """The PagerDuty dedup_key of an alert: stable across restarts and re-sends."""
    return f"headroom-{hashlib.sha256(f'{rule}/{lhash}'.encode()).hexdigest()[:40]}"


@dataclass(frozen=True, slots=True)
class Alert:
    """The state of one alert (a row of ``alert_state``)."""

    rule: str
    labels: Mapping[str, str]
    labels_hash: str
    state: str
    active_since: int | None
    fired_at: int | None
    resolved_at: int | None
    last_eval: int
    last_true: int | None
    value: float | None
    severity: str
    annotations: Mapping[str, str] = field(default_factory=dict)
    last_notified_at: int | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.rule, self.labels_hash)

    @property
    def dedup_key(self) -> str:
        return dedup_key(self.rule, self.labels_hash)


@dataclass(frozen=True, slots=True)
class Transition:
    alert: Alert  # the state after the transition
    from_state: str
    to_state: str
    ts: int


@dataclass(frozen=True, slots=True)
class ForecastRow:
    target: str
    resource: str
    metric: str
    labels: Mapping[str, str]
    created_at: int
    status: str
    threshold: float | None
    p10_ts: int | None
    p50_ts: int | None
    p90_ts: int | None


@dataclass(slots=True)
class GroupState:
    """What one channel was last told about one notification group (kept across restarts)."""

    channel: str
    group_key: str
    group_labels: dict[str, str]
    first_pending_at: int | None = None
    last_sent_at: int | None = None
    notified: dict[str, int] = field(
        default_factory=dict
    )  # labels_hash of firing alerts last sent → fired_at

    def to_json(self) -> str:
        return json.dumps(
            {
                "channel": self.channel,
                "group_key": self.group_key,
                "group_labels": self.group_labels,
                "first_pending_at": self.first_pending_at,
                "last_sent_at": self.last_sent_at,
                "notified": self.notified,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> GroupState:
        data = json.loads(text)
        return cls(
            channel=data["channel"],
            group_key=data["group_key"],
            group_labels=dict(data.get("group_labels", {})),
            first_pending_at=data.get("first_pending_at"),
            last_sent_at=data.get("last_sent_at"),
            notified={str(k): int(v) for k, v in data.get("notified", {}).items()},
        )


@dataclass(frozen=True, slots=True)
class Notification:
    """One message for one channel: a group's firing and resolved alerts."""

    channel: str
    group_key: str
    group_labels: Mapping[str, str]
    firing: list[Alert]
    resolved: list[Alert]
    new_firing: list[Alert]  # firing alerts the channel has not been told about yet
    kind: str  # trigger | repeat | resolve
    ts: int


@dataclass(frozen=True, slots=True)
class OutboxItem:
    channel: str
    alert_key: str
    kind: str
    dedup_key: str
    payload: Mapping[str, Any]
