"""``headroom query --blocking``: the blocking trees of the stored snapshot, roots first, as inert text."""

from __future__ import annotations

from pathlib import Path

from store import open_store
from testing.synthetic_activity import HOSTILE_QUERY, populate_activity
from tests.headroom.test_cli import run_cli

END = 1_800_000_000


def test_query_blocking_prints_the_tree(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    st = open_store(url)
    st.ensure_target("db", "postgres", {})
    populate_activity(st, ["db"], END)
    st.close()
    (tmp_path / "headroom.yaml").write_text(f"store: {{url: '{url}'}}\n", encoding="utf-8")
    out = run_cli("query", "--target", "db", "--blocking", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    head, *tree = out.stdout.splitlines()
    assert head.endswith("1 root blocker(s), 2 blocked session(s)")
    assert [line.split("pid ")[1].split()[0] for line in tree] == ["4101", "4102", "4103"]
    assert tree[1].startswith("  └─ pid 4102") and "ShareLock on transactionid 7310" in tree[1]
    assert "waiting 1 min 15 s" in tree[1] and "xact 6 min 40 s" in tree[0]
    assert HOSTILE_QUERY in tree[0]
    earlier = run_cli("query", "--target", "db", "--blocking", "--end", str(END - 3600), cwd=tmp_path)
    assert earlier.returncode == 0 and earlier.stdout.endswith("no session waits for a lock\n")
    missing = run_cli("query", "--target", "db", cwd=tmp_path)
    assert missing.returncode == 2 and "--metric" in missing.stderr
