"""The dashboard's pages, in navigation order: one table that the app, the tests and the
benchmarks read (no Streamlit import, so a test or a benchmark can list the pages cheaply)."""

from __future__ import annotations

#: (file under app_pages/, title, icon, URL path)
PAGES: list[tuple[str, str, str, str]] = [
    ("fleet.py", "Fleet overview", ":material/dashboard:", "fleet"),
    ("instance.py", "Instance", ":material/monitor_heart:", "instance"),
    ("server.py", "Server", ":material/dns:", "server"),
    ("activity.py", "Activity", ":material/bolt:", "activity"),
    ("queries.py", "Queries", ":material/query_stats:", "queries"),
    ("storage.py", "Storage & growth", ":material/storage:", "storage"),
    ("vacuum.py", "Vacuum & wraparound", ":material/cleaning_services:", "vacuum"),
    ("innodb.py", "InnoDB", ":material/memory:", "innodb"),
    ("replication.py", "Replication", ":material/sync_alt:", "replication"),
    ("pgbouncer.py", "PgBouncer", ":material/hub:", "pgbouncer"),
    ("indexes.py", "Indexes", ":material/account_tree:", "indexes"),
    ("advisors.py", "Advisors", ":material/fact_check:", "advisors"),
    ("capacity.py", "Capacity", ":material/trending_up:", "capacity"),
    ("alerts.py", "Alerts", ":material/notifications:", "alerts"),
    ("targets.py", "Targets & collectors", ":material/settings_input_component:", "targets"),
]

#: the URL path of every page, in navigation order
PAGE_PATHS: tuple[str, ...] = tuple(path for _, _, _, path in PAGES)

#: the pages about one target (the sidebar's target); the others are fleet-wide
SINGLE_TARGET_PAGES: frozenset[str] = frozenset(
    {"instance", "server", "activity", "queries", "storage", "vacuum", "innodb", "indexes", "targets"}
)
