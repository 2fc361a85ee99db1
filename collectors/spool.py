"""Local spool for write batches while the store is unreachable.

Each batch is one file ``<seq>-<created>-<items>.json`` (written to a temporary name, then
renamed, so a crash never leaves half a batch). Batches are replayed in ``seq`` order once the
store answers again; the spool survives a collector restart. It is bounded: when it holds more
than ``max_bytes`` the oldest batches are dropped, and batches older than ``max_age`` seconds are
dropped instead of replayed. Everything dropped is counted (``dropped_items``, and ``on_drop``
tells the collector's drop ledger) — never silent. A spool directory removed under a running
collector is made again at the next append.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from collectors.batch import Batch
from collectors.isolate import StoreUnreachable

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 512 * 1024 * 1024
DEFAULT_MAX_AGE = 7 * 86400.0


@dataclass(frozen=True)
class SpoolFile:
    path: Path
    seq: int
    created: int
    items: int
    size: int


#: ``on_drop(reason, items, created, detail)``: reason is ``spool_size``, ``spool_age`` or ``spool_corrupt``
OnDrop = Callable[[str, int, int, str], None]


class Spool:
    def __init__(
        self,
        directory: Path | str,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_age: float = DEFAULT_MAX_AGE,
        on_drop: OnDrop | None = None,
    ):
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.on_drop = on_drop
        self.directory.mkdir(parents=True, exist_ok=True)
        self.dropped_items = 0
        self.dropped_batches = 0
        self.replayed_batches = 0
        for leftover in self.directory.glob("*.tmp"):
            leftover.unlink(missing_ok=True)
        files = self.files()
        self._next_seq = files[-1].seq + 1 if files else 1

    def files(self) -> list[SpoolFile]:
        out: list[SpoolFile] = []
        for p in self.directory.glob("*.json"):
            parts = p.stem.split("-")
            if len(parts) != 3 or not all(x.isdigit() for x in parts):
                continue
            try:
                size = p.stat().st_size
            except FileNotFoundError:
                continue
            out.append(SpoolFile(p, int(parts[0]), int(parts[1]), int(parts[2]), size))
        out.sort(key=lambda f: f.seq)
        return out

    def __len__(self) -> int:
        return len(self.files())

    @property
    def size_bytes(self) -> int:
        return sum(f.size for f in self.files())

    def append(self, batch: Batch, now: float | None = None) -> None:
        """Keep ``batch`` on disk, then enforce the size bound (dropping the oldest)."""
        created = int(now if now is not None else time.time())
        seq = self._next_seq
        self._next_seq += 1
        self._write(self.directory / f"{seq:012d}-{created}-{len(batch)}.json", batch)
        self._enforce_size()

    def _write(self, final: Path, batch: Batch) -> None:
        """Write atomically; on failure (disk full) nothing is left behind and OSError is raised."""
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = final.with_suffix(".tmp")
        try:
            with open(tmp, "w") as fh:
                fh.write(batch.to_json())
                fh.flush()
                os.fsync(fh.fileno())
            tmp.rename(final)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise

    def _drop(self, f: SpoolFile, reason: str, why: str) -> None:
        f.path.unlink(missing_ok=True)
        self.dropped_items += f.items
        self.dropped_batches += 1
        log.warning("spool: dropped batch %d (%d items): %s", f.seq, f.items, why)
        if self.on_drop is not None:
            self.on_drop(reason, f.items, f.created, why)

    def _enforce_size(self) -> None:
        files = self.files()
        total = sum(f.size for f in files)
        while files and total > self.max_bytes:
            f = files.pop(0)
            total -= f.size
            self._drop(f, "spool_size", f"spool larger than {self.max_bytes} bytes")

    def replay(self, write: Callable[[Batch], None], now: float | None = None) -> int:
        """Write spooled batches in order; stops (re-raising) at the first failure, leaving that
        batch and the later ones for the next attempt. When ``write`` raises
        :class:`StoreUnreachable` after writing part of a batch, the file keeps only the rest.
        Returns how many batches were written."""
        now = now if now is not None else time.time()
        done = 0
        for f in self.files():
            if now - f.created > self.max_age:
                self._drop(f, "spool_age", f"older than {self.max_age:.0f}s")
                continue
            try:
                batch = Batch.from_json(f.path.read_text())
            except (ValueError, KeyError, TypeError) as exc:  # a damaged file never blocks the rest
                self._drop(f, "spool_corrupt", f"unreadable spool file {f.path.name}: {type(exc).__name__}")
                continue
            try:
                write(batch)
            except StoreUnreachable as exc:
                if len(exc.remaining) != len(batch):
                    self._rewrite(f, exc.remaining)
                raise
            f.path.unlink(missing_ok=True)
            done += 1
            self.replayed_batches += 1
        return done

    def _rewrite(self, f: SpoolFile, rest: Batch) -> None:
        """Keep only ``rest`` of a spooled batch, under the same sequence number."""
        self._write(self.directory / f"{f.seq:012d}-{f.created}-{len(rest)}.json", rest)
        if f.items != len(rest):
            f.path.unlink(missing_ok=True)
