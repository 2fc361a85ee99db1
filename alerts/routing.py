"""Routing, inhibition, silencing and grouping: (alerts, config, group states, now) → notifications.

Pure functions; the service persists the results together with the alert states.
Per (channel, group) the rules are Alertmanager's: a new group waits `group_wait`; a changed group
(new firing alerts, or resolved ones) is notified at most every `group_interval`; an unchanged firing
group is re-sent every `repeat_interval` (an Alertmanager channel: every `resend_interval`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from alerts.config import AlertsConfig, InhibitRule, RouteConfig
from alerts.matchers import Matcher, all_match, parse_matchers
from alerts.model import FIRING, RESOLVED, Alert, GroupState, Notification


@dataclass(frozen=True, slots=True)
class ActiveSilence:
    id: int
    matchers: Sequence[Matcher]


def silenced_by(alert: Alert, silences: Iterable[ActiveSilence]) -> int | None:
    for silence in silences:
        if all_match(silence.matchers, alert.labels):
            return silence.id
    return None


def inhibited(alert: Alert, firing: Sequence[Alert], rules: Sequence[InhibitRule]) -> bool:
    """True when a firing alert matching an inhibit rule's source mutes `alert` (never itself)."""
    for rule in rules:
        if not all_match(parse_matchers(rule.target_matchers), alert.labels):
            continue
        sources = parse_matchers(rule.source_matchers)
        for other in firing:
            if other.key == alert.key or not all_match(sources, other.labels):
                continue
            if all(other.labels.get(name, "") == alert.labels.get(name, "") for name in rule.equal):
                return True
    return False


def matching_routes(alert: Alert, routes: Sequence[RouteConfig]) -> list[tuple[int, RouteConfig]]:
    found = []
    for i, route in enumerate(routes):
        if all_match(parse_matchers(route.matchers), alert.labels):
            found.append((i, route))
            if not route.continue_:
                break
    return found


def group_key(channel: str, route_index: int, group_labels: Mapping[str, str]) -> str:
    text = json.dumps([channel, route_index, sorted(group_labels.items())], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(slots=True)
class _Bucket:
    channel: str
    route: RouteConfig
    group_labels: dict[str, str]
    alerts: list[Alert] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RoutingResult:
    notifications: list[Notification]
    groups: dict[str, GroupState]  # group_key → state to keep
    removed_groups: list[str]
    muted: dict[tuple[str, str], str]  # alert key → "silenced by N" | "inhibited"


def plan(
    alerts: Iterable[Alert],
    cfg: AlertsConfig,
    groups: Mapping[str, GroupState],
    silences: Sequence[ActiveSilence],
    now: int,
) -> RoutingResult:
    """Route, mute and group ``alerts``; decide per group what to send now. ``groups`` is not
    modified: the states to keep are returned."""
    current = [a for a in alerts if a.state in (FIRING, RESOLVED)]
    muted = _muted([a for a in current if a.state == FIRING], silences, cfg.inhibit_rules)
    resend = {c.name: getattr(c, "resend_interval", None) for c in cfg.channels}
    buckets = _buckets(current, cfg.routes)
    notifications: list[Notification] = []
    kept: dict[str, GroupState] = {}
    removed: list[str] = []
    for gk in set(buckets) | set(groups):
        bucket = buckets.get(gk)
        state = groups.get(gk) or _new_state(gk, bucket)
        route = bucket.route if bucket else _route_for_state(state, cfg.routes)
        if route is None:
            removed.append(gk)
            continue
        members = _Members.of(state, bucket.alerts if bucket else [], muted)
        state, note = _advance(state, route, members, resend.get(state.channel), now)
        if note is not None:
            notifications.append(note)
        if not members.live and not state.notified and not members.any_muted:
            removed.append(gk)
        else:
            kept[gk] = state
    notifications.sort(key=lambda n: (n.channel, n.group_key))
    return RoutingResult(notifications, kept, [g for g in removed if g in groups], muted)


def _muted(
    firing: Sequence[Alert], silences: Sequence[ActiveSilence], rules: Sequence[InhibitRule]
) -> dict[tuple[str, str], str]:
    """Firing alerts that are silenced ("silenced by N") or inhibited by an unsilenced one."""
    muted: dict[tuple[str, str], str] = {}
    for alert in firing:
        sid = silenced_by(alert, silences)
        if sid is not None:
            muted[alert.key] = f"silenced by {sid}"
        elif inhibited(alert, [f for f in firing if silenced_by(f, silences) is None], rules):
            muted[alert.key] = "inhibited"
    return muted


def _buckets(current: Sequence[Alert], routes: Sequence[RouteConfig]) -> dict[str, _Bucket]:
    """The alerts of each (channel, route, group labels), by group key."""
    buckets: dict[str, _Bucket] = {}
    for alert in current:
        for index, route in matching_routes(alert, routes):
            labels = {name: alert.labels.get(name, "") for name in route.group_by}
            for channel in route.channels:
                gk = group_key(channel, index, labels)
                buckets.setdefault(gk, _Bucket(channel, route, labels)).alerts.append(alert)
    return buckets


def _new_state(gk: str, bucket: _Bucket | None) -> GroupState:
    if bucket is None:  # a group key with neither a bucket nor a state is never asked for
        raise KeyError(gk)
    return GroupState(bucket.channel, gk, dict(bucket.group_labels))


@dataclass(frozen=True, slots=True)
class _Members:
    """One group's alerts as its channel last heard of them."""

    live: list[Alert]  # firing and not muted
    new: list[Alert]  # live, and not yet told (or fired again since)
    gone: list[Alert]  # told as firing, now resolved
    changed: bool  # new alerts, or told ones that are no longer live
    any_muted: bool

    @classmethod
    def of(
        cls, state: GroupState, members: Sequence[Alert], muted: Mapping[tuple[str, str], str]
    ) -> _Members:
        live = [a for a in members if a.state == FIRING and a.key not in muted]
        live_hashes = {a.labels_hash for a in live}
        muted_here = {a.labels_hash for a in members if a.key in muted}
        by_hash = {a.labels_hash: a for a in members}
        new = [a for a in live if state.notified.get(a.labels_hash) != a.fired_at]
        gone_hashes = [h for h in state.notified if h not in live_hashes and h not in muted_here]
        gone = [by_hash[h] for h in gone_hashes if h in by_hash and by_hash[h].state == RESOLVED]
        return cls(live, new, gone, bool(new or gone_hashes), bool(muted_here))


def _send_kind(
    state: GroupState, route: RouteConfig, m: _Members, resend: float | None, now: int
) -> str | None:
    """trigger | repeat | resolve, or None when nothing is due (Alertmanager's three intervals)."""
    if state.last_sent_at is None:
        pending_since = now if state.first_pending_at is None else state.first_pending_at
        return "trigger" if m.live and now - pending_since >= route.group_wait else None
    repeat = min(route.repeat_interval, resend) if resend else route.repeat_interval
    if m.changed and now - state.last_sent_at >= route.group_interval:
        return "trigger" if m.new or m.live else "resolve"
    if m.live and now - state.last_sent_at >= repeat:
        return "repeat"
    return None


def _advance(
    state: GroupState, route: RouteConfig, m: _Members, resend: float | None, now: int
) -> tuple[GroupState, Notification | None]:
    """The group's next state, and the notification to send now if one is due."""
    kind = _send_kind(state, route, m, resend, now)
    if kind is None:
        if state.last_sent_at is None and m.live and state.first_pending_at is None:
            return replace(state, first_pending_at=now), None
        return state, None
    resolved = m.gone if route.send_resolved else []
    note = (
        Notification(
            state.channel, state.group_key, dict(state.group_labels), m.live, resolved, m.new, kind, now
        )
        if m.live or resolved
        else None
    )
    notified = {a.labels_hash: int(a.fired_at or now) for a in m.live}
    return replace(state, last_sent_at=now, notified=notified, first_pending_at=None), note


def _route_for_state(state: GroupState, routes: Sequence[RouteConfig]) -> RouteConfig | None:
    """The route of a group that has no current alerts (all dropped): recomputed from its key."""
    for index, route in enumerate(routes):
        if (
            state.channel in route.channels
            and group_key(state.channel, index, state.group_labels) == state.group_key
        ):
            return route
    return None
