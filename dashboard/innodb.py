"""The InnoDB page's data, shaped without Streamlit: metric names, chart groups, per-table I/O and
per-user statement tables, and the KPI values (MySQL/MariaDB only)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

import pandas as pd

from dashboard import format as fmt
from store.format import Unit


@dataclass(frozen=True, slots=True)
class Line:
    metric: str
    label: str  # the series name on a chart with several metrics


@dataclass(frozen=True, slots=True)
class ChartGroup:
    """One chart drawing several metrics of one unit, with help text naming them."""

    title: str
    unit: Unit
    lines: tuple[Line, ...]
    help: str

    @property
    def metrics(self) -> list[str]:
        return [line.metric for line in self.lines]

    def help_text(self) -> str:
        return f"{self.help} Metrics: {', '.join(f'`{m}`' for m in self.metrics)}."


HISTORY = "mysql_innodb_history_list_length"
OLDEST_TRX = "mysql_oldest_transaction_seconds"
ROW_LOCK_WAITS = "mysql_innodb_row_lock_waits_rate"
ROW_LOCK_TIME = "mysql_innodb_row_lock_time_ms_rate"
ROW_LOCK_NOW = "mysql_innodb_row_lock_current_waits"
PAGES_TOTAL = "mysql_innodb_buffer_pool_pages_total"
PAGES_DATA = "mysql_innodb_buffer_pool_pages_data"
PAGES_DIRTY = "mysql_innodb_buffer_pool_pages_dirty"
PAGES_FREE = "mysql_innodb_buffer_pool_pages_free"
CHECKPOINT_AGE = "mysql_innodb_checkpoint_age_bytes"
REDO_CAPACITY = "mysql_innodb_redo_log_capacity_bytes"
CHECKPOINT_RATIO = "mysql_innodb_checkpoint_age_ratio"
REDO_WRITTEN = "mysql_innodb_redo_written_bytes_rate"
LOG_WAITS = "mysql_innodb_log_waits_rate"
ROWS_EXAMINED = "mysql_rows_examined_rate"
ROWS_SENT = "mysql_rows_sent_rate"
NO_INDEX = "mysql_no_index_used_rate"
SLOW_QUERIES = "mysql_slow_queries_rate"
QUESTIONS = "mysql_questions_rate"
TABLE_READ = "mysql_table_io_rows_read_rate"
TABLE_WRITTEN = "mysql_table_io_rows_written_rate"
TABLE_WAIT = "mysql_table_io_wait_ms_rate"
USER_METRICS: dict[str, str] = {
    "calls": "mysql_user_statements_rate",
    "time_ms": "mysql_user_statement_time_ms_rate",
    "lock_ms": "mysql_user_lock_time_ms_rate",
    "rows_examined": "mysql_user_rows_examined_rate",
    "rows_sent": "mysql_user_rows_sent_rate",
    "no_index_used": "mysql_user_no_index_used_rate",
}

CHARTS: dict[str, tuple[ChartGroup, ...]] = {
    "Purge and row locks": (
        ChartGroup(
            "Purge lag (history list length)",
            "count",
            (Line(HISTORY, "history list length"),),
            "Undo log entries InnoDB has not purged yet; it grows behind long-running transactions.",
        ),
        ChartGroup(
            "Row lock waits",
            "rate",
            (Line(ROW_LOCK_WAITS, "waits"),),
            "Row lock waits that began per second.",
        ),
        ChartGroup(
            "Time waiting for row locks",
            "ms",
            (Line(ROW_LOCK_TIME, "ms waited per second"),),
            "Milliseconds spent waiting for row locks per second (Innodb_row_lock_time).",
        ),
    ),
    "Buffer pool and redo log": (
        ChartGroup(
            "Buffer pool pages",
            "count",
            (
                Line(PAGES_TOTAL, "total"),
                Line(PAGES_DATA, "holding data"),
                Line(PAGES_DIRTY, "dirty"),
                Line(PAGES_FREE, "free"),
            ),
            "InnoDB buffer pool pages: dirty pages are changed in memory and not yet flushed to disk.",
        ),
        ChartGroup(
            "Checkpoint age against the redo log",
            "bytes",
            (Line(CHECKPOINT_AGE, "checkpoint age"), Line(REDO_CAPACITY, "redo log capacity")),
            "Redo written since the last checkpoint; when it nears the capacity InnoDB must flush "
            "synchronously and writes stall.",
        ),
        ChartGroup(
            "Redo written",
            "bytes_rate",
            (Line(REDO_WRITTEN, "redo bytes per second"),),
            "Bytes of redo log written per second (Innodb_os_log_written).",
        ),
    ),
    "Rows examined vs sent, slow queries": (
        ChartGroup(
            "Rows examined and sent",
            "rate",
            (Line(ROWS_EXAMINED, "rows examined"), Line(ROWS_SENT, "rows sent")),
            "Rows every statement examined and returned per second (performance_schema); many rows "
            "examined per row sent points at missing indexes.",
        ),
        ChartGroup(
            "Slow queries and scans without an index",
            "rate",
            (Line(SLOW_QUERIES, "slower than long_query_time"), Line(NO_INDEX, "used no index")),
            "Statements per second slower than long_query_time (Slow_queries), and executions that "
            "used no index.",
        ),
    ),
}


def group_frame(frames: Mapping[str, pd.DataFrame], group: ChartGroup) -> pd.DataFrame:
    """The series of a chart group's metrics in one frame, each named by its line's label (a metric
    with several series keeps its labels after the name)."""
    parts = []
    for line in group.lines:
        df = frames.get(line.metric)
        if df is None or df.empty:
            continue
        tail = df["series"].str.partition("{")[2]
        named = [line.label if not t else f"{line.label} {{{t}" for t in tail]
        parts.append(df.assign(series=named))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _latest_sum(df: pd.DataFrame) -> float | None:
    return float(df["value"].sum()) if not df.empty else None


def ratio(part: float | None, whole: float | None) -> float | None:
    """``part / whole``; None (shown as —) when either is missing or the whole is 0."""
    if part is None or whole is None or whole <= 0:
        return None
    return part / whole


@dataclass(frozen=True, slots=True)
class Kpis:
    history: float | None
    row_lock_waits: float | None
    checkpoint_ratio: float | None
    dirty_ratio: float | None
    slow_queries: float | None
    examined_per_sent: float | None


def kpis(latest: Mapping[str, pd.DataFrame]) -> Kpis:
    """Headline values from the latest sample of each metric (missing ones stay None)."""

    def get(metric: str) -> float | None:
        df = latest.get(metric)
        return _latest_sum(df) if df is not None else None

    return Kpis(
        history=get(HISTORY),
        row_lock_waits=get(ROW_LOCK_WAITS),
        checkpoint_ratio=get(CHECKPOINT_RATIO),
        dirty_ratio=ratio(get(PAGES_DIRTY), get(PAGES_TOTAL)),
        slow_queries=get(SLOW_QUERIES),
        examined_per_sent=ratio(get(ROWS_EXAMINED), get(ROWS_SENT)),
    )


def _means(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean value per series over the range, its labels as columns."""
    if df.empty:
        return pd.DataFrame(columns=[*keys, "value"])
    means = df.groupby("labels", as_index=False)["value"].mean()
    labels = [json.loads(x) for x in means["labels"]]
    out = pd.DataFrame({k: [str(lab.get(k, "")) for lab in labels] for k in keys})
    out["value"] = means["value"].to_numpy()
    return out


TABLE_IO_COLUMNS = ["table", "rows read / s", "rows written / s", "I/O time / s", "share of I/O time"]


def table_io(read: pd.DataFrame, written: pd.DataFrame, wait: pd.DataFrame, limit: int = 30) -> pd.DataFrame:
    """Per-table I/O averaged over the range, most I/O time first (the mysql_table_io_* series)."""
    keys = ["schema", "table"]
    merged = _means(wait, keys).rename(columns={"value": "wait"})
    for name, df in (("read", read), ("written", written)):
        merged = merged.merge(_means(df, keys).rename(columns={"value": name}), on=keys, how="outer")
    if merged.empty:
        return pd.DataFrame(columns=TABLE_IO_COLUMNS)
    merged = merged.fillna(0.0).sort_values(
        ["wait", "read", "schema", "table"], ascending=[False, False, True, True]
    )
    total = float(merged["wait"].sum())
    merged = merged.head(limit)
    return pd.DataFrame(
        {
            "table": merged["schema"] + "." + merged["table"],
            "rows read / s": [fmt.fmt_rate(v) for v in merged["read"]],
            "rows written / s": [fmt.fmt_rate(v) for v in merged["written"]],
            "I/O time / s": [fmt.fmt_ms(v) for v in merged["wait"]],
            "share of I/O time": [fmt.fmt_pct(ratio(v, total)) for v in merged["wait"]],
        }
    ).reset_index(drop=True)


USER_COLUMNS = [
    "user",
    "statements / s",
    "time / s",
    "lock time / s",
    "rows examined / s",
    "rows sent / s",
    "examined per sent",
    "no index / s",
]


def users(frames: Mapping[str, pd.DataFrame], limit: int = 20) -> pd.DataFrame:
    """Statements per user averaged over the range, most time first (the mysql_user_* series)."""
    merged: pd.DataFrame | None = None
    for key, metric in USER_METRICS.items():
        part = _means(frames.get(metric, pd.DataFrame()), ["user"]).rename(columns={"value": key})
        merged = part if merged is None else merged.merge(part, on="user", how="outer")
    if merged is None or merged.empty:
        return pd.DataFrame(columns=USER_COLUMNS)
    merged = (
        merged.fillna(0.0)
        .sort_values(["time_ms", "calls", "user"], ascending=[False, False, True])
        .head(limit)
    )
    return pd.DataFrame(
        {
            "user": merged["user"],
            "statements / s": [fmt.fmt_rate(v) for v in merged["calls"]],
            "time / s": [fmt.fmt_ms(v) for v in merged["time_ms"]],
            "lock time / s": [fmt.fmt_ms(v) for v in merged["lock_ms"]],
            "rows examined / s": [fmt.fmt_rate(v) for v in merged["rows_examined"]],
            "rows sent / s": [fmt.fmt_rate(v) for v in merged["rows_sent"]],
            "examined per sent": [
                fmt.fmt_number(ratio(e, s))
                for e, s in zip(merged["rows_examined"], merged["rows_sent"], strict=True)
            ],
            "no index / s": [fmt.fmt_rate(v) for v in merged["no_index_used"]],
        }
    ).reset_index(drop=True)


def link(page: str, target: str, range_key: str | None = None) -> str:
    """A deep link to ``page`` for one target (and the sidebar's range when it is a preset)."""
    params = {"target": target}
    if range_key:
        params["range"] = range_key
    return f"/{page}?{urlencode(params)}"


DIGEST_COLUMNS = [
    "queryid",
    "dbname",
    "calls",
    "total_ms",
    "mean_ms",
    "rows",
    "rows_examined",
    "examined_per_call",
    "no_index_used",
    "lock_ms",
    "share",
    "text",
]


def digest_table(shown: pd.DataFrame) -> pd.DataFrame:
    """The Queries page's table for a MySQL/MariaDB target: besides time and calls, rows examined (in
    total and per call), executions that used no index and lock time. Digests carry no user."""
    calls = shown["calls"].astype(float)
    per_call = [ratio(float(e), c) for e, c in zip(shown["rows_examined"], calls, strict=True)]
    return shown.assign(
        examined_per_call=[fmt.fmt_number(v) for v in per_call],
        calls=[fmt.fmt_count(v) for v in shown["calls"]],
        total_ms=[fmt.fmt_ms(v) for v in shown["total_ms"]],
        mean_ms=[fmt.fmt_ms(v) for v in shown["mean_ms"]],
        rows=[fmt.fmt_count(v) for v in shown["rows"]],
        rows_examined=[fmt.fmt_count(v) for v in shown["rows_examined"]],
        no_index_used=[fmt.fmt_count(v) for v in shown["no_index_used"]],
        lock_ms=[fmt.fmt_ms(v) for v in shown["lock_ms"]],
    )[DIGEST_COLUMNS]
