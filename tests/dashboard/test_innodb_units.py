"""The InnoDB page's data shaping (dashboard/innodb.py), without Streamlit."""

from __future__ import annotations

import json

import pandas as pd

from dashboard import format as fmt
from dashboard import innodb as inn


def frame(metric: str, rows: list[tuple[dict[str, str], list[float]]]) -> pd.DataFrame:
    out = []
    for labels, values in rows:
        series = "t" + ("{" + ",".join(f"{k}={v}" for k, v in sorted(labels.items())) + "}" if labels else "")
        for i, v in enumerate(values):
            out.append(
                {
                    "target": "t",
                    "metric": metric,
                    "series": series,
                    "labels": json.dumps(labels, sort_keys=True),
                    "ts": 1000 + 60 * i,
                    "value": v,
                }
            )
    return pd.DataFrame(out)


def test_table_io_is_averaged_over_the_range_most_io_time_first() -> None:
    a, b = {"schema": "shop", "table": "orders"}, {"schema": "shop", "table": "items"}
    read = frame(inn.TABLE_READ, [(a, [100.0, 300.0]), (b, [10.0, 10.0])])
    written = frame(inn.TABLE_WRITTEN, [(a, [1.0, 3.0])])  # items wrote nothing: shown as 0, never blank
    wait = frame(inn.TABLE_WAIT, [(a, [2.0, 4.0]), (b, [9.0, 9.0])])
    out = inn.table_io(read, written, wait)
    assert list(out["table"]) == ["shop.items", "shop.orders"]
    assert list(out["rows read / s"]) == [fmt.fmt_rate(10.0), fmt.fmt_rate(200.0)]
    assert list(out["rows written / s"]) == [fmt.fmt_rate(0.0), fmt.fmt_rate(2.0)]
    assert list(out["I/O time / s"]) == [fmt.fmt_ms(9.0), fmt.fmt_ms(3.0)]
    assert list(out["share of I/O time"]) == [fmt.fmt_pct(0.75), fmt.fmt_pct(0.25)]
    empty = inn.table_io(pd.DataFrame(), pd.DataFrame(), pd.DataFrame())
    assert empty.empty and list(empty.columns) == inn.TABLE_IO_COLUMNS


def test_users_with_no_rows_sent_show_a_dash_not_a_division_by_zero() -> None:
    frames = {m: frame(m, [({"user": "app"}, [4.0])]) for m in inn.USER_METRICS.values()}
    frames[inn.USER_METRICS["rows_sent"]] = frame(inn.USER_METRICS["rows_sent"], [({"user": "app"}, [0.0])])
    frames[inn.USER_METRICS["time_ms"]] = frame(
        inn.USER_METRICS["time_ms"], [({"user": "app"}, [4.0]), ({"user": "batch"}, [40.0])]
    )
    out = inn.users(frames)
    assert list(out["user"]) == ["batch", "app"]
    assert list(out["examined per sent"]) == [fmt.fmt_number(None), fmt.fmt_number(None)]
    assert out.loc[1, "rows examined / s"] == fmt.fmt_rate(4.0)
    assert inn.users({}).empty


def test_kpis_and_chart_groups() -> None:
    latest = {
        inn.PAGES_DIRTY: frame(inn.PAGES_DIRTY, [({}, [50.0])]),
        inn.PAGES_TOTAL: frame(inn.PAGES_TOTAL, [({}, [200.0])]),
        inn.ROWS_EXAMINED: frame(inn.ROWS_EXAMINED, [({}, [900.0])]),
        inn.ROWS_SENT: frame(inn.ROWS_SENT, [({}, [0.0])]),
    }
    k = inn.kpis(latest)
    assert k.dirty_ratio == 0.25 and k.examined_per_sent is None and k.history is None
    group = inn.CHARTS["Buffer pool and redo log"][1]
    df = inn.group_frame(
        {
            inn.CHECKPOINT_AGE: frame(inn.CHECKPOINT_AGE, [({}, [1.0])]),
            inn.REDO_CAPACITY: frame(inn.REDO_CAPACITY, [({}, [8.0])]),
        },
        group,
    )
    assert sorted(set(df["series"])) == ["checkpoint age", "redo log capacity"]
    assert all(f"`{m}`" in group.help_text() for m in group.metrics)
    assert inn.link("queries", "a b&c") == "/queries?target=a+b%26c"
