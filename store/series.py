"""Targets and series identity: names and label sets → integer ids, cached in the process.

A cached series id is dropped from the cache after :data:`~store.config.SERIES_REFRESH_S`; using the
series again resolves it anew, which also marks it used (``series.last_seen``). Retention deletes only
series unused for far longer (``retention.series`` ≥ 1 day), so a cached id always names a live series.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterable, Mapping

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from store.clock import Clock, system_clock
from store.config import SERIES_REFRESH_S
from store.schema import series, targets
from store.types import TargetRow

LabelsKey = tuple[tuple[str, str], ...]
SeriesCacheKey = tuple[str, str, LabelsKey]


def labels_key(labels: Mapping[str, str]) -> LabelsKey:
    """A hashable, order-independent form of a label set."""
    return tuple(sorted(labels.items())) if labels else ()


def labels_json(labels: Mapping[str, str] | LabelsKey) -> str:
    items = labels if isinstance(labels, tuple) else labels_key(labels)
    return json.dumps(dict(items), separators=(",", ":"), sort_keys=True)


def labels_hash(labels_json_text: str) -> str:
    return hashlib.blake2b(labels_json_text.encode(), digest_size=16).hexdigest()


def _insert(conn: Connection):  # type: ignore[no-untyped-def]
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


class SeriesRegistry:
    """Resolves (target, metric, labels) to series ids, creating what is missing.

    Safe for concurrent writers: inserts use ON CONFLICT DO NOTHING and re-read the ids."""

    def __init__(self, engine: Engine, clock: Clock = system_clock) -> None:
        self._engine = engine
        self._clock = clock
        self._lock = threading.Lock()
        self._target_ids: dict[str, int] = {}
        self._series_ids: dict[SeriesCacheKey, int] = {}
        self._resolved_at: dict[SeriesCacheKey, float] = {}
        self._next_expiry = time.monotonic() + 60.0

    @property
    def cache(self) -> dict[SeriesCacheKey, int]:
        return self._series_ids

    def ensure_target(self, name: str, engine_name: str, labels: Mapping[str, str] | None = None) -> int:
        """Register a target (or update its engine and labels) and return its id."""
        labels_text = labels_json(labels or {})
        with self._engine.begin() as conn:
            ins = _insert(conn)(targets).values(
                name=name, engine=engine_name, labels_json=labels_text, added_at=int(self._clock())
            )
            conn.execute(
                ins.on_conflict_do_update(
                    index_elements=[targets.c.name],
                    set_={"engine": engine_name, "labels_json": labels_text},
                )
            )
            target_id = conn.execute(select(targets.c.id).where(targets.c.name == name)).scalar_one()
        with self._lock:
            self._target_ids[name] = int(target_id)
        return int(target_id)

    def target_id(self, name: str) -> int | None:
        if name in self._target_ids:
            return self._target_ids[name]
        with self._engine.connect() as conn:
            found = conn.execute(select(targets.c.id).where(targets.c.name == name)).scalar_one_or_none()
        if found is not None:
            with self._lock:
                self._target_ids[name] = int(found)
        return None if found is None else int(found)

    def _target_id_creating(self, conn: Connection, name: str, fresh: dict[str, int]) -> int:
        """The target's id, inserting the target when missing; a new id goes to ``fresh``, cached
        only once the transaction commits (a rolled-back id must never be reused)."""
        cached = self._target_ids.get(name, fresh.get(name))
        if cached is not None:
            return cached
        ins = _insert(conn)(targets).values(
            name=name, engine="unknown", labels_json="{}", added_at=int(self._clock())
        )
        conn.execute(ins.on_conflict_do_nothing(index_elements=[targets.c.name]))
        target_id = int(conn.execute(select(targets.c.id).where(targets.c.name == name)).scalar_one())
        fresh[name] = target_id
        return target_id

    def expire(self, now: float | None = None, max_age: float = SERIES_REFRESH_S) -> int:
        """Forget cached series ids resolved more than `max_age` seconds ago (checked once a minute)."""
        now = time.monotonic() if now is None else now
        if now < self._next_expiry:
            return 0
        with self._lock:
            self._next_expiry = now + 60.0
            old = [k for k, at in self._resolved_at.items() if at < now - max_age]
            for key in old:
                self._series_ids.pop(key, None)
                self._resolved_at.pop(key, None)
        return len(old)

    def ids(self, keys: Iterable[SeriesCacheKey]) -> dict[SeriesCacheKey, int]:
        """The series id of every key, creating the series that are missing (one transaction for all)."""
        cache = self._series_ids
        out: dict[SeriesCacheKey, int] = {}
        missing: list[SeriesCacheKey] = []
        for key in keys:
            sid = cache.get(key)
            if sid is None:
                missing.append(key)
            else:
                out[key] = sid
        if missing:
            out.update(self.resolve(missing))
        return out

    def resolve(self, keys: Iterable[SeriesCacheKey]) -> dict[SeriesCacheKey, int]:
        """Make sure every key has a series id in the cache (one transaction for all new ones);
        returns the id of every key."""
        wanted = set(keys)
        with self._lock:
            out = {k: self._series_ids[k] for k in wanted if k in self._series_ids}
            missing = wanted - out.keys()
            if not missing:
                return out
            fresh_targets: dict[str, int] = {}
            fresh_series: dict[SeriesCacheKey, int] = {}
            self._resolve(missing, fresh_targets, fresh_series)
            self._target_ids.update(fresh_targets)  # committed: now they may be cached
            self._series_ids.update(fresh_series)
            resolved_at = time.monotonic()
            self._resolved_at.update(dict.fromkeys(fresh_series, resolved_at))
        out.update(fresh_series)
        return out

    def _resolve(
        self,
        missing: set[SeriesCacheKey],
        fresh_targets: dict[str, int],
        fresh_series: dict[SeriesCacheKey, int],
    ) -> None:
        now = int(self._clock())
        with self._engine.begin() as conn:
            by_target: dict[int, list[SeriesCacheKey]] = {}
            rows = []
            for key in missing:
                target_name, metric, lkey = key
                tid = self._target_id_creating(conn, target_name, fresh_targets)
                by_target.setdefault(tid, []).append(key)
                text = labels_json(lkey)
                rows.append(
                    {
                        "target_id": tid,
                        "metric": metric,
                        "labels_json": text,
                        "labels_hash": labels_hash(text),
                        "last_seen": now,
                    }
                )
            rows.sort(
                key=lambda r: (r["target_id"], r["metric"], r["labels_hash"])
            )  # one lock order for all writers
            ins = _insert(conn)(series)
            conn.execute(
                ins.on_conflict_do_update(
                    index_elements=[series.c.target_id, series.c.metric, series.c.labels_hash],
                    set_={"last_seen": ins.excluded.last_seen},
                ),
                rows,
            )
            wanted = {(r["target_id"], r["metric"], r["labels_hash"]) for r in rows}
            names = {tid: keys_[0][0] for tid, keys_ in by_target.items()}
            found = conn.execute(
                select(
                    series.c.id,
                    series.c.target_id,
                    series.c.metric,
                    series.c.labels_json,
                    series.c.labels_hash,
                )
                .where(series.c.target_id.in_(list(by_target)))
                .where(series.c.metric.in_(sorted({k[1] for k in missing})))
            )
            for sid, tid, metric, text, lhash in found:
                if (tid, metric, lhash) in wanted:
                    lkey = tuple(sorted(json.loads(text).items()))
                    fresh_series[(names[tid], metric, lkey)] = int(sid)

    def list_targets(self) -> list[TargetRow]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(targets).order_by(targets.c.name)).mappings().all()
        return [
            TargetRow(
                id=r["id"],
                name=r["name"],
                engine=r["engine"],
                labels=json.loads(r["labels_json"]),
                added_at=r["added_at"],
            )
            for r in rows
        ]
