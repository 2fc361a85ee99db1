"""Blocking trees from one activity sample: root blockers first, then the sessions they block,
recursively. A session waiting on several blockers appears under each of them (as the server says);
a cycle (a deadlock the server has not broken yet) is cut where it closes, its lowest pid taken as root."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from store.format import fmt_duration

MAX_DEPTH = 100  # a chain longer than this is cut (the depth reported is at least this)


@dataclass
class BlockNode:
    session: Mapping[str, Any]
    children: list[BlockNode] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return int(self.session["pid"])

    def depth(self) -> int:
        """Waits in a row below this session: C waiting for B waiting for A is depth 2 at A."""
        return 0 if not self.children else 1 + max(c.depth() for c in self.children)

    def blocked(self) -> set[int]:
        """Distinct pids blocked behind this session, directly or through others."""
        out: set[int] = set()
        for c in self.children:
            out.add(c.pid)
            out |= c.blocked()
        return out


def _blockers(session: Mapping[str, Any]) -> list[int]:
    return [int(p) for p in session.get("blockers") or []]


def blocking_trees(sessions: Iterable[Mapping[str, Any]]) -> list[BlockNode]:
    """The trees, the root blocking the most sessions first. A blocker not in ``sessions`` (the sample
    was bounded, or the session ended meanwhile) still appears, with only its pid."""
    by_pid: dict[int, Mapping[str, Any]] = {int(s["pid"]): s for s in sessions}
    waiters: dict[int, list[int]] = {}
    for pid, s in by_pid.items():
        for b in _blockers(s):
            if b != pid:
                waiters.setdefault(b, []).append(pid)
    if not waiters:
        return []
    for b in waiters:
        by_pid.setdefault(b, {"pid": b})
    roots = sorted(b for b in waiters if not any(x != b for x in _blockers(by_pid[b])))
    placed: set[int] = set()

    def build(pid: int, path: tuple[int, ...]) -> BlockNode:
        placed.add(pid)
        node = BlockNode(by_pid[pid])
        if len(path) < MAX_DEPTH:
            for w in sorted(waiters.get(pid, [])):
                if w not in path:
                    node.children.append(build(w, (*path, w)))
        return node

    trees = [build(r, (r,)) for r in roots]
    for pid in sorted(waiters):  # blockers only reachable through a cycle
        if pid not in placed:
            trees.append(build(pid, (pid,)))
    trees.sort(key=lambda t: (-len(t.blocked()), t.pid))
    return trees


def walk(trees: Sequence[BlockNode]) -> list[tuple[int, BlockNode]]:
    """Every node with its level (0 for a root), depth first, roots in order."""
    out: list[tuple[int, BlockNode]] = []

    def visit(node: BlockNode, level: int) -> None:
        out.append((level, node))
        for c in node.children:
            visit(c, level + 1)

    for t in trees:
        visit(t, 0)
    return out


def _printable(text: object, limit: int) -> str:
    """One line of printable text (control characters from a monitored server dropped), at most ``limit``."""
    flat = "".join(ch if ch.isprintable() else " " for ch in str(text))
    flat = " ".join(flat.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def tree_lines(trees: Sequence[BlockNode], query_chars: int = 120) -> list[str]:
    """The trees as indented text lines (``headroom query --blocking``): pid, user, client, state,
    lock mode and what is locked, waiting time, transaction age, query."""
    lines = []
    for level, node in walk(trees):
        s = node.session
        lock = f"{s.get('lock_mode')} on {s.get('lock_target')}" if s.get("lock_mode") else "—"
        head = "  " * level + ("└─ " if level else "")
        lines.append(
            f"{head}pid {node.pid}  user {_printable(s.get('user') or '—', 64)}  "
            f"client {_printable(s.get('client') or '—', 64)}  state {_printable(s.get('state') or '—', 40)}  "
            f"lock {_printable(lock, 120)}  waiting {fmt_duration(s.get('wait_age')) if level else '—'}  "
            f"xact {fmt_duration(s.get('xact_age'))}  query {_printable(s.get('query') or '—', query_chars)}"
        )
    return lines
