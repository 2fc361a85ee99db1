"""The Activity page on the synthetic store: the load it draws is the store's, a deep link opens the
window of a past spike whose top query links to its Queries entry, the live sessions and the blocking
tree are shown, and markup in a query text stays text."""

from __future__ import annotations

from typing import Any

import pytest

from dashboard.activity import query_link
from store import format as fmt
from testing.synthetic_activity import HOSTILE_QUERY, SPAN_S
from tests.dashboard.conftest import run_page, visible_texts


def _no_failure(at: Any) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_activity_page_window_tree_and_links(synthetic_store: Any) -> None:
    now = max(lv.ts for lv in synthetic_store.latest("up"))
    spike = now - SPAN_S // 2
    at = run_page("activity", {"target": "db-000", "at": str(spike)})
    _no_failure(at)
    texts = visible_texts(at)
    # the window's average load is the store's, through the one formatter
    top = synthetic_store.activity_top(
        "db-000", spike - 300, spike + 300, ["queryid", "dbname", "username"], 10
    )
    queries = at.dataframe[0].value
    assert list(queries["queryid"]) == [k[0] for k, _ in top]
    assert queries.iloc[0]["queryid"] == "q3"  # the lock waits of the spike
    assert queries.iloc[0]["load"] == fmt.fmt_number(top[0][1])
    link = queries.iloc[0]["link"]
    assert link == query_link("db-000", "q3", (spike - 300, spike + 300))
    assert link.startswith("queries?target=db-000&queryid=q3&range=")
    assert any(t == f"Sessions at {fmt.fmt_ts(spike)}" for t in texts)
    # the synthetic snapshots before the newest bucket hold no session
    assert "No session was active or in a transaction." in texts

    live = run_page("activity", {"target": "db-000", "range": "24h"})
    _no_failure(live)
    sessions = live.dataframe[-1].value
    assert list(sessions["pid"][:3]) == [4101, 4102, 4103]
    assert sessions.iloc[0]["query"] == HOSTILE_QUERY  # a table cell: text, never markup
    assert sessions.iloc[0]["flag"] == "blocking" and sessions.iloc[2]["flag"] == "blocked"
    [tree] = [c.value for c in live.code]
    lines = tree.splitlines()
    assert lines[0].startswith("pid 4101 ") and lines[1].startswith("  └─ pid 4102 ")
    assert lines[2].startswith("    └─ pid 4103 ") and "ShareLock on transactionid 7310" in lines[1]
    assert HOSTILE_QUERY in lines[0]  # in a code block: shown as typed
    assert all(HOSTILE_QUERY not in m.value for m in live.markdown)


@pytest.mark.parametrize("slicing", ["wait event", "user", "client"])
def test_activity_slicing(synthetic_store: Any, slicing: str) -> None:
    at = run_page("activity", {"target": "db-000", "range": "24h"})
    at.selectbox(key="act_slice").select(slicing).run()
    _no_failure(at)
    assert at.get("vega_lite_chart") or at.get("arrow_vega_lite_chart")


def test_queries_page_opens_the_linked_statement(synthetic_store: Any) -> None:
    at = run_page("queries", {"target": "db-000", "range": "24h", "queryid": "q3"})
    _no_failure(at)
    assert at.selectbox(key="q_pick").value == "q3"


def test_alerts_firing_become_annotations() -> None:
    import json

    import pandas as pd

    from dashboard.activity import with_alerts

    history = pd.DataFrame(
        {
            "ts": [100, 200, 300],
            "rule": ["Lag", "Lag", "Other"],
            "labels_json": [json.dumps({"target": "db"})] * 2 + [json.dumps({"target": "x"})],
            "to_state": ["pending", "firing", "firing"],
        }
    )
    events = pd.DataFrame(
        {
            "time": [pd.Timestamp(50, unit="s", tz="UTC")],
            "kind": ["restart"],
            "message": ["restarted"],
            "severity": ["warning"],
            "target": ["db"],
        }
    )
    got = with_alerts(events, history, "db")
    assert list(got["kind"]) == ["restart", "alert"] and list(got["message"]) == ["restarted", "Lag firing"]
    assert got["time"].iloc[1] == pd.Timestamp(200, unit="s", tz="UTC")
