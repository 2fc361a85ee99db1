"""Targets and series identity: names and label sets → integer ids, cached in the process."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable, Mapping

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from store.clock import Clock, system_clock
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

    def _target_id_creating(self, conn: Connection, name: str) -> int:
        cached = self._target_ids.get(name)
        if cached is not None:
            return cached
        ins = _insert(conn)(targets).values(name=name, engine="unknown", labels_json="{}", added_at=int(self._clock()))
        conn.execute(ins.on_conflict_do_nothing(index_elements=[targets.c.name]))
        target_id = int(conn.execute(select(targets.c.id).where(targets.c.name == name)).scalar_one())
        self._target_ids[name] = target_id
        return target_id

    def resolve(self, keys: Iterable[SeriesCacheKey]) -> None:
        """Make sure every key has a series id in the cache (one transaction for all new ones)."""
        missing = {k for k in keys if k not in self._series_ids}
        if not missing:
            return
        with self._lock, self._engine.begin() as conn:
            by_target: dict[int, list[SeriesCacheKey]] = {}
            rows = []
            for key in missing:
                target_name, metric, lkey = key
                tid = self._target_id_creating(conn, target_name)
                by_target.setdefault(tid, []).append(key)
                text = labels_json(lkey)
                rows.append({"target_id": tid, "metric": metric, "labels_json": text, "labels_hash": labels_hash(text)})
            conn.execute(
                _insert(conn)(series).on_conflict_do_nothing(
                    index_elements=[series.c.target_id, series.c.metric, series.c.labels_hash]
                ),
                rows,
            )
            wanted = {(r["target_id"], r["metric"], r["labels_hash"]) for r in rows}
            names = {tid: keys_[0][0] for tid, keys_ in by_target.items()}
            found = conn.execute(
                select(series.c.id, series.c.target_id, series.c.metric, series.c.labels_json, series.c.labels_hash)
                .where(series.c.target_id.in_(list(by_target)))
                .where(series.c.metric.in_(sorted({k[1] for k in missing})))
            )
            for sid, tid, metric, text, lhash in found:
                if (tid, metric, lhash) in wanted:
                    lkey = tuple(sorted(json.loads(text).items()))
                    self._series_ids[(names[tid], metric, lkey)] = int(sid)

    def list_targets(self) -> list[TargetRow]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(targets).order_by(targets.c.name)).mappings().all()
        return [
            TargetRow(id=r["id"], name=r["name"], engine=r["engine"], labels=json.loads(r["labels_json"]), added_at=r["added_at"])
            for r in rows
        ]
