"""``headroom query --blocking``: the blocking trees of one target's activity snapshot, as text."""

from __future__ import annotations

from collectors.activity.blocking import blocking_trees, tree_lines
from store.api import Store
from store.format import fmt_ts


def blocking_report(store: Store, target: str, at: int | None = None) -> str:
    """The snapshot at or before ``at`` (the newest when None): its time, then one tree per root
    blocker (roots first, the sessions they block indented below), or a line saying nobody waits."""
    found = store.activity_snapshot(target, at)
    if found is None:
        return (
            f"no activity snapshot of {target!r}"
            + (f" at or before {fmt_ts(at)}" if at is not None else "")
            + "\n"
        )
    ts, sessions = found
    trees = blocking_trees(sessions)
    head = f"{target} at {fmt_ts(ts)} ({ts}): "
    if not trees:
        return head + "no session waits for a lock\n"
    blocked = len({p for t in trees for p in t.blocked()})
    lines = [head + f"{len(trees)} root blocker(s), {blocked} blocked session(s)", *tree_lines(trees)]
    return "\n".join(lines) + "\n"
