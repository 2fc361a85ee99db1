"""``headroom collect --shard i/n``: rendezvous (highest random weight) hashing of target names.

Each target goes to the shard with the highest hash of (shard index, target name). Adding a shard
moves only the targets the new shard wins (about 1/n of them); every target has exactly one shard.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Protocol, TypeVar


class Named(Protocol):
    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=Named)


def parse_shard(text: str) -> tuple[int, int]:
    """``"0/2"`` → ``(0, 2)``; a clear error for anything else."""
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        raise ValueError(f"--shard {text!r}: expected i/n, e.g. 0/2") from None
    if not sep or n < 1 or not 0 <= i < n:
        raise ValueError(f"--shard {text!r}: expected i/n with 0 <= i < n, e.g. 0/2")
    return i, n


def _weight(shard: int, name: str) -> int:
    digest = hashlib.blake2b(f"{shard}\x00{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def shard_of(name: str, count: int) -> int:
    """The shard (0..count-1) that owns target ``name``."""
    if count < 1:
        raise ValueError("shard count must be at least 1")
    return max(range(count), key=lambda s: (_weight(s, name), -s))


class UnknownTargets(ValueError):
    """Target names asked for on the command line that the configuration does not have."""


def by_name(items: Iterable[T], names: Iterable[str] | None) -> list[T]:
    """The configured targets named in ``names`` (all of them when None or empty)."""
    out = list(items)
    wanted = set(names or ())
    if not wanted:
        return out
    unknown = sorted(wanted - {t.name for t in out})
    if unknown:
        raise UnknownTargets(f"unknown target(s): {', '.join(unknown)}")
    return [t for t in out if t.name in wanted]


def select(items: Iterable[T], shard: tuple[int, int] | None) -> list[T]:
    """The items (targets with a ``name``) that belong to ``shard``; all of them when None."""
    out = list(items)
    if shard is None:
        return out
    index, count = shard
    return [t for t in out if shard_of(t.name, count) == index]
