"""Blocking trees from one activity sample: root blockers first, then the sessions they block,
recursively. A session waiting on several blockers appears under each of them (as the server says);
a cycle (a deadlock the server has not broken yet) is cut where it closes, its lowest pid taken as root."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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
