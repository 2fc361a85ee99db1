"""Knowing that samples landed, without polling the samples: what wakes ``headroom alerts`` so it
evaluates when new data arrives rather than on its timer alone.

- **PostgreSQL**: every sample write sends ``NOTIFY headroom_samples`` in its transaction (delivered
  at commit); a watcher holds one connection that ``LISTEN``s.
- **SQLite**: a watcher's own connection reads ``PRAGMA data_version``, which changes whenever another
  connection commits. That includes the watcher's own process (alert states, the outbox), so a reader
  calls :meth:`SampleWatch.rebase` after its own writes, and spaces its wake-ups.

A watcher that cannot watch (the LISTEN connection lost, a store that went away) only ever times out:
the reader falls back to its timer.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

import psycopg
from sqlalchemy import Engine

log = logging.getLogger(__name__)

CHANNEL = "headroom_samples"
NOTIFY_SQL = f"SELECT pg_catalog.pg_notify('{CHANNEL}', '')"
SQLITE_POLL_S = 0.05


class SampleWatch:
    """``wait(timeout)``: True as soon as another writer committed (samples, on PostgreSQL), False
    when ``timeout`` passed (or ``stop`` was set) first."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._backend = engine.dialect.name
        self._pg: psycopg.Connection | None = None
        self._sqlite: sqlite3.Connection | None = None
        self._version: int | None = None
        try:
            self._open()
        except Exception as exc:  # the timer still works
            log.warning(
                "store change watch unavailable (%s): evaluating on the timer only", type(exc).__name__
            )
            self.close()

    def _open(self) -> None:
        if self._backend == "postgresql":
            url = self._engine.url.set(drivername="postgresql")
            self._pg = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
            self._pg.execute(f"LISTEN {CHANNEL}")
        elif self._backend == "sqlite" and self._engine.url.database not in (None, "", ":memory:"):
            self._sqlite = sqlite3.connect(f"file:{self._engine.url.database}?mode=ro", uri=True, timeout=5)
            self.rebase()

    def rebase(self) -> None:
        """Take what is committed now as seen (after the reader's own writes)."""
        if self._sqlite is not None:
            self._version = self._data_version()

    def _data_version(self) -> int | None:
        assert self._sqlite is not None
        try:
            row = self._sqlite.execute("PRAGMA data_version").fetchone()
        except sqlite3.Error:
            return None
        return int(row[0]) if row else None

    def wait(self, timeout: float, stop: threading.Event | None = None) -> bool:
        deadline = time.monotonic() + max(0.0, timeout)
        if self._pg is not None:
            return self._wait_pg(deadline, stop)
        if self._sqlite is not None:
            return self._wait_sqlite(deadline, stop)
        if stop is not None:
            stop.wait(max(0.0, deadline - time.monotonic()))
        else:
            time.sleep(max(0.0, deadline - time.monotonic()))
        return False

    def _wait_pg(self, deadline: float, stop: threading.Event | None) -> bool:
        assert self._pg is not None
        while (left := deadline - time.monotonic()) > 0 and not (stop is not None and stop.is_set()):
            try:
                got = list(self._pg.notifies(timeout=min(left, 0.5), stop_after=1))
                if got:
                    self._drain_pg()  # after the generator above has ended: it holds the connection
                    return True
            except psycopg.Error as exc:
                log.warning("store change watch lost (%s): evaluating on the timer only", type(exc).__name__)
                self.close()
                return self.wait(max(0.0, deadline - time.monotonic()), stop)
        return False

    def _drain_pg(self) -> None:
        """Several writes while the reader worked are one wake-up."""
        assert self._pg is not None
        for _ in self._pg.notifies(timeout=0.01):  # (0 would mean no timeout)
            pass

    def _wait_sqlite(self, deadline: float, stop: threading.Event | None) -> bool:
        while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
            version = self._data_version()
            if version is not None and self._version is not None and version != self._version:
                self._version = version
                return True
            if self._version is None:
                self._version = version
            time.sleep(SQLITE_POLL_S)
        return False

    def close(self) -> None:
        for conn in (self._pg, self._sqlite):
            if conn is not None:
                try:
                    conn.close()
                except Exception:  # closing is best effort
                    log.debug("store change watch: close failed", exc_info=True)
        self._pg = self._sqlite = None
