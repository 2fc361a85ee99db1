"""Writing a batch the store may refuse part of: the refused rows are isolated, the rest is written.

When the store rejects a batch for a reason other than being unreachable (a constraint, a value it
cannot hold), the batch is split in halves and each half written again, down to single rows; every
row the store still refuses goes to the quarantine directory (one JSON file per row set, bounded in
size) and is reported. A batch of N items with one bad row costs about 2·log2(N) writes.

When the store becomes unreachable in the middle, :class:`StoreUnreachable` carries the parts not
written yet, in order, so the caller keeps exactly those (nothing written twice, nothing lost).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import exc as sa_exc

from collectors.batch import Batch, merge

log = logging.getLogger(__name__)

#: errors that mean "the store is unreachable right now" (spool and retry) rather than "this
#: batch can never be written" (isolate the rows it refuses)
UNREACHABLE = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    OSError,
    TimeoutError,
)

DEFAULT_QUARANTINE_BYTES = 64 * 1024 * 1024


def is_unreachable(exc: BaseException) -> bool:
    if isinstance(exc, UNREACHABLE):
        return True
    return isinstance(exc, sa_exc.DBAPIError) and bool(exc.connection_invalidated)


class StoreUnreachable(Exception):
    """The store went away while a batch was written; ``remaining`` was not written."""

    def __init__(self, remaining: Batch, cause: BaseException) -> None:
        super().__init__(f"store unreachable: {type(cause).__name__}")
        self.remaining = remaining
        self.cause = cause


@dataclass
class Rejected:
    """Rows the store refused: where they were kept (None: could not be kept) and why."""

    batch: Batch
    error: str
    path: Path | None


def describe_error(exc: BaseException) -> str:
    """The store's error, first line, without the statement or parameters (they may be huge)."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {text[0][:300]}" if text else type(orig).__name__


class Quarantine:
    """A directory of rows the store refused, bounded to ``max_bytes`` (beyond it rows are dropped)."""

    def __init__(self, directory: Path | str, max_bytes: int = DEFAULT_QUARANTINE_BYTES) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self._seq = 0

    def size_bytes(self) -> int:
        try:
            return sum(p.stat().st_size for p in self.directory.glob("*.json"))
        except OSError:
            return 0

    def keep(self, batch: Batch, error: str, now: float | None = None) -> Path | None:
        """Write ``batch`` and the error to a new file; None when it cannot be kept (bound, disk)."""
        text = json.dumps({"error": error, "batch": json.loads(batch.to_json())}, separators=(",", ":"))
        if self.size_bytes() + len(text) > self.max_bytes:
            return None
        self._seq += 1
        path = (
            self.directory / f"{int(now if now is not None else time.time())}-{os.getpid()}-{self._seq}.json"
        )
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.rename(path)
        except OSError as exc:
            log.warning(
                "quarantine: cannot keep %d refused item(s) in %s: %s", len(batch), self.directory, exc
            )
            return None
        return path


def write_isolating(
    write: Callable[[Batch], None],
    batch: Batch,
    quarantine: Quarantine | None,
) -> list[Rejected]:
    """Write ``batch``; rows the store refuses are isolated and quarantined. Returns what was refused.
    Raises :class:`StoreUnreachable` (with what is left) when the store cannot be reached."""
    rejected: list[Rejected] = []
    parts = [batch]
    while parts:
        part = parts.pop(0)
        try:
            write(part)
        except Exception as exc:
            if is_unreachable(exc):
                raise StoreUnreachable(merge([part, *parts]), exc) from exc
            if len(part) <= 1:
                error = describe_error(exc)
                path = quarantine.keep(part, error) if quarantine is not None else None
                log.warning(
                    "the store refused %d item(s) (%s); %s",
                    len(part),
                    error,
                    f"kept in {path}" if path else "dropped",
                )
                rejected.append(Rejected(part, error, path))
                continue
            parts[0:0] = list(part.split())
    return rejected
