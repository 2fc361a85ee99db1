"""Silences: matchers + start/end + author + comment, with an append-only audit trail.

Called by the CLI (``headroom alerts silence ...``) and the dashboard's Alerts page.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from alerts.matchers import Matcher, parse_matchers
from alerts.routing import ActiveSilence
from store import schema
from store.api import Store


class SilenceError(ValueError):
    """Invalid silence request (the message says which argument is wrong)."""


@dataclass(frozen=True, slots=True)
class Silence:
    id: int
    matchers: list[dict[str, str]]  # [{"name", "op", "value"}]
    starts_at: int
    ends_at: int
    author: str
    comment: str
    created_at: int
    expired_at: int | None
    state: str  # pending | active | expired


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    silence_id: int
    action: str
    author: str
    comment: str
    ts: int
    snapshot: dict[str, Any]


def _probe_values() -> tuple[str, ...]:
    """Label values of every shape (empty, short, long, unicode, punctuation) a real alert may carry."""
    rng = random.Random(20261202)
    alphabet = string.ascii_letters + string.digits + string.punctuation + " éßø日本"
    made = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(60)]
    return (
        "",
        "a",
        "Z",
        "0",
        "-",
        "_",
        ".",
        " ",
        "*",
        "db-000",
        "orders-primary",
        "PostgresDown",
        "critical",
        "warning",
        "info",
        "x" * 300,
        *made,
    )


_PROBES = _probe_values()
#: labels every alert (of a target) carries: for them an empty value is no alert at all
ALWAYS_SET = frozenset({"alertname", "severity", "target"})


def selects(matcher: Matcher) -> bool:
    """Whether `matcher` leaves some alerts out: it asks for a value (``=`` / ``=~``) that is not what
    every label value is. ``!=``/``!~`` (all but one value) and regexes like ``.*`` never do, nor does
    ``.+`` on a label every alert has."""
    if matcher.op not in ("=", "=~"):
        return False
    probes = [v for v in _PROBES if v or matcher.name not in ALWAYS_SET]
    return not all(matcher.matches({matcher.name: value}) for value in probes)


def _matchers(value: Iterable[str] | Mapping[str, str]) -> list[Matcher]:
    try:
        parsed = parse_matchers(value)
    except ValueError as exc:
        raise SilenceError(f"matchers: {exc}") from exc
    if not parsed:
        raise SilenceError("matchers: a silence needs at least one matcher")
    if not any(selects(m) for m in parsed):
        raise SilenceError(
            "matchers: these matchers match every alert (or all but a few); name at least one label value "
            'with = or =~, e.g. target="orders-primary" or alertname=~"Postgres.*"'
        )
    return parsed


def _encode(matchers: list[Matcher]) -> str:
    return json.dumps([{"name": m.name, "op": m.op, "value": m.value} for m in matchers])


def _decode(text: str) -> list[Matcher]:
    data = json.loads(text)
    if isinstance(data, dict):
        return [Matcher(str(k), "=", str(v)) for k, v in data.items()]
    return [Matcher(d["name"], d.get("op", "="), d["value"]) for d in data]


def _state(starts_at: int, ends_at: int, expired_at: int | None, now: float) -> str:
    if expired_at is not None or ends_at <= now:
        return "expired"
    return "active" if starts_at <= now else "pending"


def _row_to_silence(row: RowMapping, now: float) -> Silence:
    return Silence(
        id=int(row["id"]),
        matchers=[{"name": m.name, "op": m.op, "value": m.value} for m in _decode(row["matchers_json"])],
        starts_at=int(row["starts_at"]),
        ends_at=int(row["ends_at"]),
        author=row["author"],
        comment=row["comment"],
        created_at=int(row["created_at"]),
        expired_at=row["expired_at"],
        state=_state(row["starts_at"], row["ends_at"], row["expired_at"], now),
    )


def _audit(conn: Connection, silence_id: int, action: str, author: str, comment: str, ts: int) -> None:
    row = conn.execute(select(schema.silences).where(schema.silences.c.id == silence_id)).mappings().one()
    snapshot = {
        k: row[k] for k in ("matchers_json", "starts_at", "ends_at", "author", "comment", "expired_at")
    }
    conn.execute(
        insert(schema.silence_audit).values(
            silence_id=silence_id,
            action=action,
            author=author,
            comment=comment,
            ts=ts,
            snapshot_json=json.dumps(snapshot, sort_keys=True),
        )
    )


def _who(author: str, comment: str) -> tuple[str, str]:
    author, comment = (author or "").strip(), (comment or "").strip()
    if not author:
        raise SilenceError("author: who creates or expires a silence must be named")
    if not comment:
        raise SilenceError("comment: say why (a ticket, an incident, a maintenance window)")
    if len(author) > 200:
        raise SilenceError("author: at most 200 characters")
    return author, comment


def create_silence(
    st: Store,
    matchers: Iterable[str] | Mapping[str, str],
    starts_at: float,
    ends_at: float,
    author: str,
    comment: str,
    now: float | None = None,
) -> int:
    """Create a silence (and its `create` audit row) in one transaction; returns its id.
    ``now`` (default: the store's clock) is when it is created."""
    parsed = _matchers(matchers)
    author, comment = _who(author, comment)
    start, end = int(starts_at), int(ends_at)
    if end <= start:
        raise SilenceError("ends_at: must be after starts_at")
    now = int(st.clock() if now is None else now)
    if end <= now:
        raise SilenceError("ends_at: is in the past")
    with st.engine.begin() as conn:
        result = conn.execute(
            insert(schema.silences).values(
                matchers_json=_encode(parsed),
                starts_at=start,
                ends_at=end,
                author=author,
                comment=comment,
                created_at=now,
                expired_at=None,
            )
        )
        key = result.inserted_primary_key
        if key is None:
            raise SilenceError("the store did not return the new silence's id")
        silence_id = int(key[0])
        _audit(conn, silence_id, "create", author, comment, now)
    return silence_id


def expire_silence(st: Store, silence_id: int, author: str, comment: str, now: float | None = None) -> None:
    """End a silence now (default: the store's clock); the audit keeps who did it and why. Expiring
    an expired silence is an error."""
    author, comment = _who(author, comment)
    now = int(st.clock() if now is None else now)
    s = schema.silences
    with st.engine.begin() as conn:
        row = conn.execute(select(s).where(s.c.id == int(silence_id))).mappings().first()
        if row is None:
            raise SilenceError(f"silence {silence_id} does not exist")
        if _state(row["starts_at"], row["ends_at"], row["expired_at"], now) == "expired":
            raise SilenceError(f"silence {silence_id} has already expired")
        conn.execute(
            update(s)
            .where(s.c.id == int(silence_id))
            .values(expired_at=now, ends_at=min(int(row["ends_at"]), now))
        )
        _audit(conn, int(silence_id), "expire", author, comment, now)


def list_silences(st: Store, include_expired: bool = True, now: float | None = None) -> list[Silence]:
    """Every silence, newest first, in their state at ``now`` (default: the store's clock)."""
    now = st.clock() if now is None else now
    s = schema.silences
    with st.engine.connect() as conn:
        rows = conn.execute(select(s).order_by(s.c.id.desc())).mappings().all()
    found = [_row_to_silence(r, now) for r in rows]
    return [x for x in found if include_expired or x.state != "expired"]


def silence_audit(st: Store, silence_id: int | None = None) -> list[AuditEntry]:
    a = schema.silence_audit
    query = select(a).order_by(a.c.id)
    if silence_id is not None:
        query = query.where(a.c.silence_id == int(silence_id))
    with st.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        AuditEntry(
            int(r["id"]),
            int(r["silence_id"]),
            r["action"],
            r["author"],
            r["comment"],
            int(r["ts"]),
            json.loads(r["snapshot_json"] or "{}"),
        )
        for r in rows
    ]


def active_silences(conn: Connection, now: float) -> list[ActiveSilence]:
    s = schema.silences
    rows = conn.execute(
        select(s.c.id, s.c.matchers_json).where(
            s.c.starts_at <= now, s.c.ends_at > now, s.c.expired_at.is_(None)
        )
    )
    return [ActiveSilence(int(i), _decode(m)) for i, m in rows]
