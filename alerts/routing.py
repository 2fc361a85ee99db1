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
from dataclasses import dataclass, field

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


def plan(  # noqa: C901
    alerts: Iterable[Alert],
    cfg: AlertsConfig,
    groups: Mapping[str, GroupState],
    silences: Sequence[ActiveSilence],
    now: int,
) -> RoutingResult:
    current = [a for a in alerts if a.state in (FIRING, RESOLVED)]
    firing = [a for a in current if a.state == FIRING]
    muted: dict[tuple[str, str], str] = {}
    for alert in firing:
        sid = silenced_by(alert, silences)
        if sid is not None:
            muted[alert.key] = f"silenced by {sid}"
        elif inhibited(alert, [f for f in firing if silenced_by(f, silences) is None], cfg.inhibit_rules):
            muted[alert.key] = "inhibited"

    resend = {c.name: getattr(c, "resend_interval", None) for c in cfg.channels}
    buckets: dict[str, _Bucket] = {}
    for alert in current:
        for index, route in matching_routes(alert, cfg.routes):
            labels = {name: alert.labels.get(name, "") for name in route.group_by}
            for channel in route.channels:
                gk = group_key(channel, index, labels)
                bucket = buckets.setdefault(gk, _Bucket(channel, route, labels))
                bucket.alerts.append(alert)

    route_of = {gk: b.route for gk, b in buckets.items()}
    notifications: list[Notification] = []
    kept: dict[str, GroupState] = {}
    removed: list[str] = []
    for gk in set(buckets) | set(groups):
        group_bucket = buckets.get(gk)
        state = groups.get(gk)
        if state is None:
            assert group_bucket is not None
            state = GroupState(group_bucket.channel, gk, dict(group_bucket.group_labels))
        group_route = route_of.get(gk) or _route_for_state(state, cfg.routes)
        members = group_bucket.alerts if group_bucket else []
        live = [a for a in members if a.state == FIRING and a.key not in muted]
        muted_here = {a.labels_hash for a in members if a.key in muted}
        by_hash = {a.labels_hash: a for a in members}
        new = [a for a in live if state.notified.get(a.labels_hash) != a.fired_at]
        gone_hashes = [
            h for h in state.notified if h not in {a.labels_hash for a in live} and h not in muted_here
        ]
        gone = [by_hash[h] for h in gone_hashes if h in by_hash and by_hash[h].state == RESOLVED]
        changed = bool(new or gone_hashes)
        send_kind: str | None = None
        if group_route is None:
            removed.append(gk)
            continue
        if state.last_sent_at is None:
            if live:
                if state.first_pending_at is None:
                    state.first_pending_at = now
                if now - state.first_pending_at >= group_route.group_wait:
                    send_kind = "trigger"
        else:
            repeat = group_route.repeat_interval
            channel_resend = resend.get(state.channel)
            if channel_resend:
                repeat = min(repeat, channel_resend)
            if changed and now - state.last_sent_at >= group_route.group_interval:
                send_kind = "trigger" if new else ("resolve" if not live else "trigger")
            elif live and now - state.last_sent_at >= repeat:
                send_kind = "repeat"
        if send_kind is not None:
            resolved = gone if group_route.send_resolved else []
            if live or resolved:
                notifications.append(
                    Notification(
                        state.channel, gk, dict(state.group_labels), live, resolved, new, send_kind, now
                    )
                )
            state.last_sent_at = now
            state.notified = {a.labels_hash: int(a.fired_at or now) for a in live}
            state.first_pending_at = None
        if not live and not state.notified and not [a for a in members if a.key in muted]:
            removed.append(gk)
            continue
        kept[gk] = state
    notifications.sort(key=lambda n: (n.channel, n.group_key))
    return RoutingResult(notifications, kept, [g for g in removed if g in groups], muted)


def _route_for_state(state: GroupState, routes: Sequence[RouteConfig]) -> RouteConfig | None:
    """The route of a group that has no current alerts (all dropped): recomputed from its key."""
    for index, route in enumerate(routes):
        if (
            state.channel in route.channels
            and group_key(state.channel, index, state.group_labels) == state.group_key
        ):
            return route
    return None
