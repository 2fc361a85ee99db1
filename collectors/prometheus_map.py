"""Exporter metrics in Prometheus → Headroom's canonical series.

Each :class:`Rule` names one canonical series (``pg_xact_commit_rate{datname}``) and the PromQL that
computes it from postgres_exporter, mysqld_exporter or node_exporter metrics. A rule may have several
variants (exporter versions renamed metrics); the variants whose metrics exist are joined with ``or``.

- Gauges are taken as they are: ``max by (<canonical labels>) (metric{<selector>})``.
- Counters become per-second rates with ``rate(metric{<selector>}[<window>])`` (summed by the canonical
  labels), the same per-second meaning as the collector's own ``*_rate`` series; the window is
  ``max(step, 4 × scrape interval)`` (see :func:`rate_window`).
- Only the canonical labels are kept (``by (...)``), so ``instance``, ``job``, ``server``, ``datid`` never
  reach the store and two series of one target can never collide.

``%(sel)s`` in an expression is replaced by the target's label matchers, ``%(w)s`` by the rate window.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

#: a target's label holding its PromQL selector, e.g. ``instance=~"db1:(9187|9100)"``
MATCH_LABEL = "prometheus_match"
_ALWAYS = '__name__!=""'
_MATCHER_RE = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')
_DISK_FSTYPES = 'fstype!~"tmpfs|ramfs|devtmpfs|overlay|squashfs|nsfs|autofs|proc|sysfs|cgroup2?"'


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str  # as written inside the quotes (PromQL string escapes kept)

    def render(self) -> str:
        return f'{self.label}{self.op}"{self.value}"'


def parse_selector(text: str) -> tuple[Matcher, ...]:
    """``instance="db1:9187", job=~"pg.*"`` (braces optional) → matchers; a clear error otherwise."""
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1].strip()
    out: list[Matcher] = []
    pos = 0
    while pos < len(body):
        m = _MATCHER_RE.match(body, pos)
        if m is None or m.end() == pos:
            raise ValueError(
                f"{MATCH_LABEL}: cannot read {body[pos:]!r}: expected label matchers like "
                'instance="db1:9187", job=~"postgres.*"'
            )
        out.append(Matcher(m.group(1), m.group(2), m.group(3)))
        pos = m.end()
    return tuple(out)


def render_selector(matchers: Iterable[Matcher]) -> str:
    rendered = ",".join(m.render() for m in matchers)
    return rendered or _ALWAYS


@dataclass(frozen=True)
class Variant:
    expr: str  # PromQL with %(sel)s and %(w)s
    needs: tuple[str, ...]  # exporter metric names it reads
    filters: str = ""  # extra matchers, for the documentation


@dataclass(frozen=True)
class Rule:
    name: str  # canonical series name
    family: str  # postgres | mysql | node
    labels: tuple[str, ...]
    counter: bool
    variants: tuple[Variant, ...]

    @property
    def needs(self) -> frozenset[str]:
        return frozenset(n for v in self.variants for n in v.needs)

    def expr(self, selector: str, window: str, present: Collection[str] | None = None) -> str | None:
        """The PromQL for this rule (None when none of its exporter metrics is ``present``)."""
        chosen = [v for v in self.variants if present is None or all(n in present for n in v.needs)]
        if not chosen:
            return None
        parts = [v.expr % {"sel": selector, "w": window} for v in chosen]
        return parts[0] if len(parts) == 1 else " or ".join(f"({p})" for p in parts)


def _sel(metric: str, filters: str = "") -> str:
    return f"{metric}{{{filters + ',' if filters else ''}%(sel)s}}"


def _by(labels: tuple[str, ...]) -> str:
    return f"by ({', '.join(labels)})" if labels else ""


def _relabel(inner: str, rename: Mapping[str, str]) -> str:
    for dst, src in rename.items():
        inner = f'label_replace({inner}, "{dst}", "$1", "{src}", "(.+)")'
    return inner


def _gauge_variant(
    metric: str,
    labels: tuple[str, ...],
    filters: str = "",
    scale: float = 1.0,
    rename: Mapping[str, str] | None = None,
) -> Variant:
    inner = _relabel(_sel(metric, filters), rename or {})
    expr = f"max {_by(labels)} ({inner})"
    return Variant(expr if scale == 1.0 else f"({expr}) * {scale:g}", (metric,), filters)


def _rate_variant(metric: str, labels: tuple[str, ...], filters: str = "", scale: float = 1.0) -> Variant:
    expr = f"sum {_by(labels)} (rate({_sel(metric, filters)}[%(w)s]))"
    return Variant(expr if scale == 1.0 else f"({expr}) * {scale:g}", (metric,), filters)


def gauge(
    name: str,
    family: str,
    *metrics: str,
    labels: tuple[str, ...] = (),
    filters: str = "",
    scale: float = 1.0,
    rename: Mapping[str, str] | None = None,
) -> Rule:
    return Rule(
        name, family, labels, False, tuple(_gauge_variant(m, labels, filters, scale, rename) for m in metrics)
    )


def rate(
    name: str, family: str, *metrics: str | tuple[str, float], labels: tuple[str, ...] = (), filters: str = ""
) -> Rule:
    """A counter rule; a metric given as ``(name, scale)`` is multiplied (ms → s: 0.001)."""
    variants = []
    for m in metrics:
        metric, scale = (m, 1.0) if isinstance(m, str) else m
        variants.append(_rate_variant(metric, labels, filters, scale))
    return Rule(name, family, labels, True, tuple(variants))


def custom(
    name: str, family: str, expr: str, needs: tuple[str, ...], labels: tuple[str, ...] = (), filters: str = ""
) -> Rule:
    return Rule(name, family, labels, False, (Variant(expr, needs, filters),))


# ------------------------------------------------------------------------------------ postgres_exporter
_DB = ("datname",)
_DBF = 'datname!=""'
_PG: list[Rule] = [
    gauge("pg_database_size_bytes", "postgres", "pg_database_size_bytes", labels=_DB, filters=_DBF),
    gauge("pg_connections", "postgres", "pg_stat_activity_count", labels=("datname", "state")),
    gauge("pg_database_backends", "postgres", "pg_stat_database_numbackends", labels=_DB, filters=_DBF),
    gauge("pg_max_connections", "postgres", "pg_settings_max_connections"),
    gauge("pg_reserved_connections", "postgres", "pg_settings_superuser_reserved_connections"),
    gauge("pg_oldest_transaction_seconds", "postgres", "pg_stat_activity_max_tx_duration"),
    gauge(
        "pg_replication_lag_bytes",
        "postgres",
        "pg_stat_replication_pg_wal_lsn_diff",
        labels=("application_name", "client_addr"),
    ),
    gauge("pg_standby_replay_lag_seconds", "postgres", "pg_replication_lag_seconds", "pg_replication_lag"),
    gauge("pg_in_recovery", "postgres", "pg_replication_is_replica"),
    gauge("pg_slot_active", "postgres", "pg_replication_slot_slot_is_active", labels=("slot_name",)),
    gauge(
        "pg_slot_safe_wal_size_bytes",
        "postgres",
        "pg_replication_slot_safe_wal_size_bytes",
        labels=("slot_name",),
    ),
    gauge("pg_start_time_seconds", "postgres", "pg_postmaster_start_time_seconds"),
    custom(  # of the rate window, like the collector's (never since the last statistics reset)
        "pg_cache_hit_ratio",
        "postgres",
        f"sum by (datname) (rate({_sel('pg_stat_database_blks_hit', _DBF)}[%(w)s])) / (sum by (datname) "
        f"(rate({_sel('pg_stat_database_blks_hit', _DBF)}[%(w)s])) + sum by (datname) "
        f"(rate({_sel('pg_stat_database_blks_read', _DBF)}[%(w)s])))",
        ("pg_stat_database_blks_hit", "pg_stat_database_blks_read"),
        _DB,
    ),
    rate("pg_wal_rate_bytes", "postgres", "pg_stat_replication_pg_current_wal_lsn_bytes"),
    rate("pg_archiver_archived_rate", "postgres", "pg_stat_archiver_archived_count"),
    rate("pg_archiver_failed_rate", "postgres", "pg_stat_archiver_failed_count"),
]
for _setting, _metric in (
    ("shared_buffers", "pg_settings_shared_buffers_bytes"),
    ("work_mem", "pg_settings_work_mem_bytes"),
    ("max_wal_size", "pg_settings_max_wal_size_bytes"),
    ("autovacuum_freeze_max_age", "pg_settings_autovacuum_freeze_max_age"),
):
    _PG.append(
        custom(
            "pg_setting",
            "postgres",
            f'label_replace(max({_sel(_metric)}), "name", "{_setting}", "name", "")',
            (_metric,),
            ("name",),
        )
    )
for _col in (
    "xact_commit",
    "xact_rollback",
    "blks_read",
    "blks_hit",
    "tup_returned",
    "tup_fetched",
    "tup_inserted",
    "tup_updated",
    "tup_deleted",
    "conflicts",
    "temp_files",
    "temp_bytes",
    "deadlocks",
    "sessions",
    "sessions_abandoned",
    "sessions_fatal",
    "sessions_killed",
):
    _PG.append(rate(f"pg_{_col}_rate", "postgres", f"pg_stat_database_{_col}", labels=_DB, filters=_DBF))
for _col in ("active_time", "session_time", "idle_in_transaction_time"):  # milliseconds in pg_stat_database
    _PG.append(
        rate(
            f"pg_{_col}_seconds_rate",
            "postgres",
            f"pg_stat_database_{_col}_seconds_total",
            (f"pg_stat_database_{_col}", 0.001),
            labels=_DB,
            filters=_DBF,
        )
    )
for _cause in ("tablespace", "lock", "snapshot", "bufferpin", "deadlock"):
    _PG.append(
        rate(
            f"pg_conflicts_{_cause}_rate",
            "postgres",
            f"pg_stat_database_conflicts_confl_{_cause}",
            labels=_DB,
            filters=_DBF,
        )
    )
for _ours, _theirs, _pg17 in (
    ("pg_checkpoints_timed_rate", "checkpoints_timed", "pg_stat_checkpointer_num_timed_total"),
    ("pg_checkpoints_requested_rate", "checkpoints_req", "pg_stat_checkpointer_num_requested_total"),
    ("pg_buffers_checkpoint_rate", "buffers_checkpoint", "pg_stat_checkpointer_buffers_written_total"),
    ("pg_buffers_clean_rate", "buffers_clean", None),
    ("pg_bgwriter_maxwritten_clean_rate", "maxwritten_clean", None),
    ("pg_buffers_backend_rate", "buffers_backend", None),
    ("pg_buffers_backend_fsync_rate", "buffers_backend_fsync", None),
    ("pg_buffers_alloc_rate", "buffers_alloc", None),
):
    _names = [f"pg_stat_bgwriter_{_theirs}_total", f"pg_stat_bgwriter_{_theirs}"]
    _PG.append(rate(_ours, "postgres", *_names, *([_pg17] if _pg17 else [])))
for _ours, _theirs, _pg17 in (  # the counts themselves (the Server page's checkpoints in a range)
    ("pg_checkpoints_timed", "checkpoints_timed", "pg_stat_checkpointer_num_timed_total"),
    ("pg_checkpoints_requested", "checkpoints_req", "pg_stat_checkpointer_num_requested_total"),
):
    _PG.append(
        gauge(_ours, "postgres", f"pg_stat_bgwriter_{_theirs}_total", f"pg_stat_bgwriter_{_theirs}", _pg17)
    )
for _ours, _theirs in (
    ("pg_checkpoint_write_seconds_rate", "checkpoint_write_time"),
    ("pg_checkpoint_sync_seconds_rate", "checkpoint_sync_time"),
):  # milliseconds
    _PG.append(
        rate(
            _ours,
            "postgres",
            (f"pg_stat_bgwriter_{_theirs}_total", 0.001),
            (f"pg_stat_bgwriter_{_theirs}", 0.001),
        )
    )

# ------------------------------------------------------------------------------------ mysqld_exporter
_ST = "mysql_global_status_"
_SIZE = 'component=~"data_length|index_length"'
_CH = ("channel",)


def _replica(name: str, *metrics: str) -> Rule:
    """Replica status per channel: MariaDB's connection_name, else channel_name, else ``default``."""
    variants = []
    for metric in metrics:
        inner = f'label_replace({_sel(metric)}, "channel", "default", "channel", "")'
        inner = f'label_replace({inner}, "channel", "$1", "channel_name", "(.+)")'
        inner = f'label_replace({inner}, "channel", "$1", "connection_name", "(.+)")'
        variants.append(Variant(f"max by (channel) ({inner})", (metric,)))
    return Rule(name, "mysql", _CH, False, tuple(variants))


_MY: list[Rule] = [
    gauge("mysql_threads_connected", "mysql", _ST + "threads_connected"),
    gauge("mysql_threads_running", "mysql", _ST + "threads_running"),
    gauge("mysql_max_connections", "mysql", "mysql_global_variables_max_connections"),
    gauge("mysql_max_used_connections", "mysql", _ST + "max_used_connections"),
    gauge("mysql_uptime_seconds", "mysql", _ST + "uptime"),
    gauge("mysql_open_tables", "mysql", _ST + "open_tables"),
    gauge("mysql_table_open_cache", "mysql", "mysql_global_variables_table_open_cache"),
    gauge("mysql_innodb_row_lock_current_waits", "mysql", _ST + "innodb_row_lock_current_waits"),
    gauge(
        "mysql_innodb_history_list_length",
        "mysql",
        _ST + "innodb_history_list_length",
        "mysql_info_schema_innodb_metrics_transaction_trx_rseg_history_len",
    ),
    gauge("mysql_innodb_buffer_pool_pages_free", "mysql", _ST + "buffer_pool_pages", filters='state="free"'),
    gauge("mysql_innodb_buffer_pool_pages_data", "mysql", _ST + "buffer_pool_pages", filters='state="data"'),
    gauge("mysql_innodb_buffer_pool_pages_dirty", "mysql", _ST + "buffer_pool_dirty_pages"),
    gauge("mysql_binlog_size_bytes", "mysql", "mysql_binlog_size_bytes"),
    gauge("mysql_binlog_files", "mysql", "mysql_binlog_files"),
    custom(
        "mysql_innodb_buffer_pool_hit_ratio",
        "mysql",  # of the rate window, like the collector's
        f"1 - sum(rate({_sel(_ST + 'innodb_buffer_pool_reads')}[%(w)s])) / "
        f"sum(rate({_sel(_ST + 'innodb_buffer_pool_read_requests')}[%(w)s]))",
        (_ST + "innodb_buffer_pool_reads", _ST + "innodb_buffer_pool_read_requests"),
    ),
    custom(
        "mysql_connections_used_ratio",
        "mysql",
        f"max({_sel(_ST + 'threads_connected')}) / max({_sel('mysql_global_variables_max_connections')})",
        (_ST + "threads_connected", "mysql_global_variables_max_connections"),
    ),
    custom(
        "mysql_schema_size_bytes",
        "mysql",
        f"sum by (schema) ({_sel('mysql_info_schema_table_size', _SIZE)})",
        ("mysql_info_schema_table_size",),
        ("schema",),
        _SIZE,
    ),
    gauge(
        "mysql_schema_data_bytes",
        "mysql",
        "mysql_info_schema_table_size",
        labels=("schema",),
        filters='component="data_length"',
    ),
    gauge(
        "mysql_schema_index_bytes",
        "mysql",
        "mysql_info_schema_table_size",
        labels=("schema",),
        filters='component="index_length"',
    ),
    custom(
        "mysql_table_size_bytes",
        "mysql",
        f"sum by (schema, table) ({_sel('mysql_info_schema_table_size', _SIZE)})",
        ("mysql_info_schema_table_size",),
        ("schema", "table"),
        _SIZE,
    ),
    _replica(
        "mysql_replica_lag_seconds",
        "mysql_slave_status_seconds_behind_master",
        "mysql_slave_status_seconds_behind_source",
    ),
    _replica(
        "mysql_replica_io_running",
        "mysql_slave_status_slave_io_running",
        "mysql_slave_status_replica_io_running",
    ),
    _replica(
        "mysql_replica_sql_running",
        "mysql_slave_status_slave_sql_running",
        "mysql_slave_status_replica_sql_running",
    ),
    _replica("mysql_replica_sql_delay_seconds", "mysql_slave_status_sql_delay"),
    _replica("mysql_replica_relay_log_space_bytes", "mysql_slave_status_relay_log_space"),
    _replica("mysql_replica_last_io_errno", "mysql_slave_status_last_io_errno"),
    _replica("mysql_replica_last_sql_errno", "mysql_slave_status_last_sql_errno"),
]
for _col in (
    "queries",
    "questions",
    "slow_queries",
    "connections",
    "aborted_connects",
    "aborted_clients",
    "innodb_buffer_pool_reads",
    "innodb_buffer_pool_read_requests",
    "innodb_row_lock_waits",
    "innodb_log_waits",
    "created_tmp_tables",
    "created_tmp_disk_tables",
    "created_tmp_files",
    "opened_tables",
    "table_open_cache_hits",
    "table_open_cache_misses",
    "table_open_cache_overflows",
):
    _MY.append(rate(f"mysql_{_col}_rate", "mysql", _ST + _col))
_MY.append(rate("mysql_innodb_row_lock_time_ms_rate", "mysql", _ST + "innodb_row_lock_time"))
for _cmd in ("select", "insert", "update", "delete", "commit", "rollback"):
    _MY.append(rate(f"mysql_com_{_cmd}_rate", "mysql", _ST + "commands_total", filters=f'command="{_cmd}"'))

# ------------------------------------------------------------------------------------ node_exporter
_MP = ("mountpoint",)
_NODE: list[Rule] = [
    gauge("disk_capacity_bytes", "node", "node_filesystem_size_bytes", labels=_MP, filters=_DISK_FSTYPES),
    gauge("disk_avail_bytes", "node", "node_filesystem_avail_bytes", labels=_MP, filters=_DISK_FSTYPES),
    custom(
        "disk_used_bytes",
        "node",
        f"max by (mountpoint) ({_sel('node_filesystem_size_bytes', _DISK_FSTYPES)}) - "
        f"max by (mountpoint) ({_sel('node_filesystem_avail_bytes', _DISK_FSTYPES)})",
        ("node_filesystem_size_bytes", "node_filesystem_avail_bytes"),
        _MP,
    ),
]

RULES: tuple[Rule, ...] = (*_PG, *_MY, *_NODE)
#: key of each rule: canonical name, plus the setting name for the several pg_setting rules
RULE_KEYS: dict[str, Rule] = {}
for _rule in RULES:
    _key = _rule.name
    if _rule.name == "pg_setting":
        _key = "pg_setting:" + re.findall(r'"name", "([a-z_]+)"', _rule.variants[0].expr)[0]
    RULE_KEYS[_key] = _rule

#: every exporter metric name a rule reads (what discovery asks Prometheus about)
SOURCE_NAMES: frozenset[str] = frozenset(n for r in RULES for n in r.needs)


def rate_window(step: float, scrape_interval: float | None) -> int:
    """Seconds of the ``rate()`` window: the step, but at least 4 scrapes (rate needs two samples)."""
    scrape = scrape_interval if scrape_interval and scrape_interval > 0 else 60.0
    return int(max(step, 4 * scrape) + 0.999)


def applicable(present: Collection[str] | None) -> list[tuple[str, Rule]]:
    """The rules with at least one variant whose metrics are all ``present`` (None: every rule)."""
    return [
        (key, rule)
        for key, rule in RULE_KEYS.items()
        if present is None or any(all(n in present for n in v.needs) for v in rule.variants)
    ]


# ------------------------------------------------------------------------------------ documentation
DOC_START, DOC_END = "<!-- mapping:start -->", "<!-- mapping:end -->"
_FAMILY_TITLE = {"postgres": "postgres_exporter", "mysql": "mysqld_exporter", "node": "node_exporter"}


def markdown_table() -> str:
    """The mapping as Markdown tables, one per exporter (written into docs/prometheus.md)."""
    out: list[str] = []
    for family, title in _FAMILY_TITLE.items():
        out += [
            f"#### {title}",
            "",
            "| Headroom series | kind | from (alternatives joined with `or`) |",
            "|---|---|---|",
        ]
        for key, rule in RULE_KEYS.items():
            if rule.family != family:
                continue
            name = f"`{rule.name}`" + (f"{{{','.join(rule.labels)}}}" if rule.labels else "")
            if key.startswith("pg_setting:"):
                name = f'`pg_setting`{{name="{key.split(":", 1)[1]}"}}'
            kind = "rate of counter" if rule.counter else "gauge"
            if not rule.counter and len(rule.variants) == 1 and len(rule.variants[0].needs) > 1:
                kind = "computed"
            sources = " or ".join(
                " & ".join(
                    f"`{n}" + (f"{{{v.filters}}}`" if v.filters and "fstype" not in v.filters else "`")
                    for n in v.needs
                )
                + (" (ms → s)" if "* 0.001" in v.expr else "")
                for v in rule.variants
            )
            out.append(f"| {name} | {kind} | {sources.replace('|', chr(92) + '|')} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def render_doc(current: str) -> str:
    """``current`` (docs/prometheus.md) with the table between the markers replaced."""
    head, sep, rest = current.partition(DOC_START)
    _, sep2, tail = rest.partition(DOC_END)
    if not sep or not sep2:
        raise ValueError(f"docs/prometheus.md: markers {DOC_START} / {DOC_END} not found")
    return f"{head}{DOC_START}\n{markdown_table()}{DOC_END}{tail}"


def main(argv: list[str]) -> int:
    from pathlib import Path

    path = (
        Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "docs" / "prometheus.md"
    )
    path.write_text(render_doc(path.read_text()))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv))
