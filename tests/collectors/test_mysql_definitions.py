"""Definition tests for MySQL 8.0 / 8.4 and MariaDB: what only MariaDB runs here is checked on
rows shaped exactly like each version's output (column names from the MySQL and MariaDB manuals),
and the MySQL SQL that MariaDB also understands is executed on the real MariaDB fixture."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

from collectors.definitions import definitions
from collectors.engines.mysql import flavour_of, version_num, with_time_limit
from collectors.mysql.binlog import binlog_totals
from collectors.mysql.digests import UNRECORDED, digest_counters, texts_sql
from collectors.mysql.dsn import DsnError, parse_mysql_dsn
from collectors.mysql.privileges import grant_statement, grantee, privilege_from_error, satisfied
from collectors.mysql.replica import (
    estimate_lag,
    parse_gtid_positions,
    parse_replica_row,
    replica_status_sql,
    status_rows,
)
from collectors.presets import presets, resolve
from testing.servers.mariadb import MariaDbPair

DEFS = definitions("mysql")
CANONICAL = {
    "mysql_threads_connected",
    "mysql_threads_running",
    "mysql_max_connections",
    "mysql_queries_rate",
    "mysql_innodb_buffer_pool_hit_ratio",
    "mysql_replica_lag_seconds",
    "mysql_replica_io_running",
    "mysql_replica_sql_running",
    "mysql_schema_size_bytes",
}
UUID_A = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
UUID_B = "9b2f1c00-1f2e-11ee-8c90-0242ac120002"


def _replica_row(names: dict[str, str], **values: Any) -> dict[str, Any]:
    """A full replica status row in the column order of the manual, renamed for the version."""
    base: dict[str, Any] = {
        "Slave_IO_State": "Waiting for master to send event",
        "Master_Host": "10.0.0.5",
        "Master_User": "repl",
        "Master_Port": 3306,
        "Connect_Retry": 60,
        "Master_Log_File": "source-bin.000002",
        "Read_Master_Log_Pos": 1307,
        "Relay_Log_File": "replica-relay-bin.000003",
        "Relay_Log_Pos": 1508,
        "Relay_Master_Log_File": "source-bin.000002",
        "Slave_IO_Running": "Yes",
        "Slave_SQL_Running": "Yes",
        "Replicate_Do_DB": "",
        "Replicate_Ignore_DB": "",
        "Replicate_Do_Table": "",
        "Replicate_Ignore_Table": "",
        "Replicate_Wild_Do_Table": "",
        "Replicate_Wild_Ignore_Table": "",
        "Last_Errno": 0,
        "Last_Error": "",
        "Skip_Counter": 0,
        "Exec_Master_Log_Pos": 1307,
        "Relay_Log_Space": 1858,
        "Until_Condition": "None",
        "Until_Log_File": "",
        "Until_Log_Pos": 0,
        "Master_SSL_Allowed": "No",
        "Master_SSL_CA_File": "",
        "Master_SSL_CA_Path": "",
        "Master_SSL_Cert": "",
        "Master_SSL_Cipher": "",
        "Master_SSL_Key": "",
        "Seconds_Behind_Master": 0,
        "Master_SSL_Verify_Server_Cert": "No",
        "Last_IO_Errno": 0,
        "Last_IO_Error": "",
        "Last_SQL_Errno": 0,
        "Last_SQL_Error": "",
        "Replicate_Ignore_Server_Ids": "",
        "Master_Server_Id": 1,
        "Master_UUID": UUID_A,
        "Master_Info_File": "mysql.slave_master_info",
        "SQL_Delay": 0,
        "SQL_Remaining_Delay": None,
        "Slave_SQL_Running_State": "Replica has read all relay log; waiting for more updates",
        "Master_Retry_Count": 86400,
        "Master_Bind": "",
        "Last_IO_Error_Timestamp": "",
        "Last_SQL_Error_Timestamp": "",
        "Master_SSL_Crl": "",
        "Master_SSL_Crlpath": "",
        "Retrieved_Gtid_Set": f"{UUID_A}:1-5",
        "Executed_Gtid_Set": f"{UUID_A}:1-5,\n{UUID_B}:1-3",
        "Auto_Position": 1,
        "Replicate_Rewrite_DB": "",
        "Channel_Name": "",
        "Master_TLS_Version": "",
        "Master_public_key_path": "",
        "Get_master_public_key": 0,
        "Network_Namespace": "",
    }
    row = {names.get(k, k): v for k, v in base.items()}
    row.update(values)
    return row


# MySQL >= 8.0.22 and 8.4: SHOW REPLICA STATUS renames every Master/Slave column
MYSQL_84 = {
    "Slave_IO_State": "Replica_IO_State",
    "Master_Host": "Source_Host",
    "Master_User": "Source_User",
    "Master_Port": "Source_Port",
    "Master_Log_File": "Source_Log_File",
    "Read_Master_Log_Pos": "Read_Source_Log_Pos",
    "Relay_Master_Log_File": "Relay_Source_Log_File",
    "Slave_IO_Running": "Replica_IO_Running",
    "Slave_SQL_Running": "Replica_SQL_Running",
    "Exec_Master_Log_Pos": "Exec_Source_Log_Pos",
    "Master_SSL_Allowed": "Source_SSL_Allowed",
    "Master_SSL_CA_File": "Source_SSL_CA_File",
    "Master_SSL_CA_Path": "Source_SSL_CA_Path",
    "Master_SSL_Cert": "Source_SSL_Cert",
    "Master_SSL_Cipher": "Source_SSL_Cipher",
    "Master_SSL_Key": "Source_SSL_Key",
    "Seconds_Behind_Master": "Seconds_Behind_Source",
    "Master_SSL_Verify_Server_Cert": "Source_SSL_Verify_Server_Cert",
    "Master_Server_Id": "Source_Server_Id",
    "Master_UUID": "Source_UUID",
    "Master_Info_File": "Source_Info_File",
    "Slave_SQL_Running_State": "Replica_SQL_Running_State",
    "Master_Retry_Count": "Source_Retry_Count",
    "Master_Bind": "Source_Bind",
    "Master_SSL_Crl": "Source_SSL_Crl",
    "Master_SSL_Crlpath": "Source_SSL_Crlpath",
    "Master_TLS_Version": "Source_TLS_Version",
    "Master_public_key_path": "Source_public_key_path",
    "Get_master_public_key": "Get_Source_public_key",
}


def _mariadb_all_slaves_row(**values: Any) -> dict[str, Any]:
    """A SHOW ALL SLAVES STATUS row as MariaDB 10.11 returns it (Connection_name first)."""
    row: dict[str, Any] = {"Connection_name": "", "Slave_SQL_State": "Slave has read all relay log"}
    base = _replica_row({})
    for k in (
        "Retrieved_Gtid_Set",
        "Executed_Gtid_Set",
        "Auto_Position",
        "Channel_Name",
        "Master_UUID",
        "Master_Info_File",
        "Master_Retry_Count",
        "Master_Bind",
        "Last_IO_Error_Timestamp",
        "Last_SQL_Error_Timestamp",
        "Master_TLS_Version",
        "Master_public_key_path",
        "Get_master_public_key",
        "Network_Namespace",
    ):
        base.pop(k)
    row.update(base)
    row.update(
        {
            "Using_Gtid": "Slave_Pos",
            "Gtid_IO_Pos": "0-1-42,1-2-7",
            "Replicate_Do_Domain_Ids": "",
            "Replicate_Ignore_Domain_Ids": "",
            "Parallel_Mode": "optimistic",
            "Slave_DDL_Groups": 8,
            "Slave_Non_Transactional_Groups": 0,
            "Slave_Transactional_Groups": 34,
            "Retried_transactions": 0,
            "Max_relay_log_size": 1073741824,
            "Executed_log_entries": 77,
            "Slave_received_heartbeats": 0,
            "Slave_heartbeat_period": 30.0,
            "Gtid_Slave_Pos": "0-1-40,1-2-7",
        }
    )
    row.update(values)
    return row


# --------------------------------------------------------------------------- definitions


def test_every_definition_has_sql_for_every_supported_version() -> None:
    assert DEFS, "no MySQL definitions found"
    for name, d in DEFS.items():
        assert d.engine == "mysql"
        if d.python:
            assert callable(d.python_function()), name
            continue
        for flavour, version in (
            ("mysql", 80000),
            ("mysql", 80036),
            ("mysql", 80400),
            ("mariadb", 100600),
            ("mariadb", 101106),
            ("mariadb", 110402),
        ):
            sql = d.sql_for(flavour, version)
            assert sql and sql.lstrip().upper().startswith("SELECT"), (name, flavour, version)
        assert d.sql_for("mariadb", 100500) is None  # older than supported: no SQL, not wrong SQL


def test_canonical_names_are_produced() -> None:
    produced = {n for d in DEFS.values() for n in d.names.values()}
    assert CANONICAL <= produced
    for d in DEFS.values():
        for column in d.names:
            assert column in d.gauges or column in d.ratios or d.names[column].endswith("_rate"), (
                d.name,
                column,
            )


def test_limits_are_in_the_sql_too() -> None:
    for d in DEFS.values():
        if d.limit is None or d.python:
            continue
        for variants in d.sql.values():
            for sql in variants.values():
                assert f"LIMIT {d.limit}" in sql, d.name


def test_presets_are_shared_and_standard_covers_the_issue() -> None:
    std = {sm.name for sm in resolve("mysql", "standard")}
    assert {
        "mysql_connections",
        "mysql_queries",
        "mysql_innodb_buffer_pool",
        "mysql_replica_status",
        "mysql_schema_sizes",
        "mysql_statements",
        "mysql_binlog",
    } <= std
    assert set(presets("mysql")["exhaustive"]) == set(DEFS)
    assert {sm.name for sm in resolve("mysql", "minimal")} < std


def test_mysql_only_differences_are_written_for_mysql() -> None:
    """MySQL 8 keeps status in performance_schema.global_status (no Com_* there) and INNODB_METRICS
    has STATUS instead of MariaDB's ENABLED."""
    assert "performance_schema.global_status" in DEFS["mysql_connections"].sql_for("mysql", 80400)  # type: ignore[operator]
    assert "information_schema.GLOBAL_STATUS" in DEFS["mysql_connections"].sql_for("mariadb", 101100)  # type: ignore[operator]
    com = DEFS["mysql_commands"].sql_for("mysql", 80036) or ""
    assert "events_statements_summary_global_by_event_name" in com and "statement/sql/select" in com
    assert "STATUS = 'enabled'" in (DEFS["mysql_innodb_history"].sql_for("mysql", 80000) or "")
    assert "ENABLED = 1" in (DEFS["mysql_innodb_history"].sql_for("mariadb", 100600) or "")


# --------------------------------------------------------------------------- replica status


@pytest.mark.parametrize(
    ("flavour", "version", "statement"),
    [
        ("mysql", 80021, "SHOW SLAVE STATUS"),
        ("mysql", 80022, "SHOW REPLICA STATUS"),
        ("mysql", 80400, "SHOW REPLICA STATUS"),
        ("mariadb", 101106, "SHOW ALL SLAVES STATUS"),
    ],
)
def test_replica_statement_per_version(flavour: str, version: int, statement: str) -> None:
    assert replica_status_sql(flavour, version) == statement


def test_mysql_84_replica_names() -> None:
    row = _replica_row(MYSQL_84, Seconds_Behind_Source=12, Channel_Name="orders")
    assert "Seconds_Behind_Source" in row and "Seconds_Behind_Master" not in row
    s = parse_replica_row(row)
    assert (s.channel, s.io_running, s.sql_running, s.lag_seconds) == ("orders", True, True, 12)
    assert (s.source_host, s.source_port, s.received_pos, s.applied_pos) == ("10.0.0.5", 3306, 1307, 1307)
    assert parse_gtid_positions(s.gtid_received) == {UUID_A: 5}
    assert parse_gtid_positions(s.gtid_applied) == {UUID_A: 5, UUID_B: 3}
    assert s.using_gtid and s.relay_log_space == 1858


def test_mysql_80_before_22_slave_names_and_errors() -> None:
    row = _replica_row(
        {},
        Slave_SQL_Running="No",
        Seconds_Behind_Master=None,
        Last_SQL_Errno=1062,
        Last_SQL_Error="Could not execute Write_rows event: Duplicate entry '7'",
        Exec_Master_Log_Pos=900,
    )
    s = parse_replica_row(row)
    assert (s.channel, s.io_running, s.sql_running, s.lag_seconds) == ("default", True, False, None)
    assert (s.last_sql_errno, s.last_io_errno) == (1062, 0) and "Duplicate" in s.last_sql_error
    assert not s.all_applied


def test_mariadb_multi_source_rows() -> None:
    rows = [
        _mariadb_all_slaves_row(),
        _mariadb_all_slaves_row(
            Connection_name="analytics",
            Slave_IO_Running="Connecting",
            Seconds_Behind_Master=None,
            Last_IO_Errno=2003,
            Last_IO_Error="error connecting to master",
            Gtid_IO_Pos="2-9-100",
        ),
    ]
    parsed = [parse_replica_row(r) for r in rows]
    assert [p.channel for p in parsed] == ["default", "analytics"]
    assert parsed[0].gtid_received == "0-1-42,1-2-7" and parsed[0].gtid_applied == "0-1-40,1-2-7"
    assert parse_gtid_positions(parsed[0].gtid_applied) == {"0": 40, "1": 7}
    assert parsed[1].io_state == "Connecting" and not parsed[1].io_running
    out = status_rows(parsed, {}, now=1000.0)
    assert [r["io_running"] for r in out] == [1, 0]
    assert out[1]["last_io_errno"] == 2003 and out[1]["lag_estimated"] == 1


def test_gtid_text_forms() -> None:
    assert parse_gtid_positions("") == {}
    assert parse_gtid_positions("0-1-42,1-2-7") == {"0": 42, "1": 7}
    assert parse_gtid_positions(f"{UUID_A.upper()}:1-5:11-18,\n{UUID_B}:1-3") == {UUID_A: 18, UUID_B: 3}
    assert parse_gtid_positions(f"{UUID_A}:1-5:blue:1-9") == {UUID_A: 5, f"{UUID_A}:blue": 9}  # 8.4 tags


def test_lag_rule_when_the_server_says_null() -> None:
    state: dict[str, Any] = {}
    running = parse_replica_row(_replica_row(MYSQL_84, Seconds_Behind_Source=3))
    assert estimate_lag(running, state, 100.0) == (3.0, False)
    stopped_pending = parse_replica_row(
        _replica_row(MYSQL_84, Replica_SQL_Running="No", Seconds_Behind_Source=None, Exec_Source_Log_Pos=900)
    )
    assert estimate_lag(stopped_pending, state, 110.0) == (13.0, True)
    assert estimate_lag(stopped_pending, state, 130.0) == (33.0, True)
    # stopped but nothing pending (idle source): 0, and growth restarts from now
    stopped_idle = parse_replica_row(
        _replica_row(MYSQL_84, Replica_SQL_Running="No", Seconds_Behind_Source=None)
    )
    assert estimate_lag(stopped_idle, state, 140.0) == (0.0, True)
    assert estimate_lag(stopped_pending, state, 145.0) == (5.0, True)


# --------------------------------------------------------------------------- digests, binlog


def test_digest_rows_to_counters() -> None:
    rows = [
        {
            "schema_name": "shop",
            "digest": "ab12",
            "calls": 41,
            "timer_wait": 2_500_000_000,
            "rows_sent": 41,
            "rows_affected": 0,
            "rows_examined": 20_500,
            "no_index_used": 41,
            "lock_time": 3_000_000_000,  # picoseconds, as SUM_LOCK_TIME
            "first_seen": 1700000000,
        },
        {
            "schema_name": None,
            "digest": None,
            "calls": 7,
            "timer_wait": 10**9,
            "rows_sent": 0,
            "rows_affected": 3,
            "first_seen": 1700000001,
        },
    ]
    c = digest_counters(rows)
    shop = next(v for k, v in c.items() if k.queryid == "ab12")
    assert (shop.calls, shop.total_ms, shop.rows, shop.since) == (41, 2.5, 41, 1700000000.0)
    assert (shop.rows_examined, shop.no_index_used, shop.lock_ms) == (20_500, 41, 3.0)
    lost = next(k for k in c if k.queryid == UNRECORDED)
    assert lost.dbname == "" and c[lost].rows == 3
    assert (c[lost].rows_examined, c[lost].no_index_used, c[lost].lock_ms) == (0, 0, 0.0)  # columns absent
    assert texts_sql(3).count("%s") == 4  # the length bound, then the digests


def test_binlog_totals() -> None:
    rows = [
        {"Log_name": "mysql-bin.000001", "File_size": 1000, "Encrypted": "No"},
        {"Log_name": "mysql-bin.000002", "File_size": 234},
    ]
    assert binlog_totals(rows) == {"size_bytes": 1234, "files": 2}
    assert binlog_totals([]) == {"size_bytes": 0, "files": 0}


# --------------------------------------------------------------------------- engine helpers


def test_versions_and_flavours() -> None:
    assert version_num("8.0.36") == 80036 and version_num("8.4.0") == 80400
    assert version_num("10.11.19-MariaDB-0+deb12u1-log") == 101119
    assert flavour_of("5.5.5-10.11.19-MariaDB-log") == "mariadb"
    assert flavour_of("8.4.2", "MySQL Community Server - GPL") == "mysql"
    with pytest.raises(ValueError, match="unrecognised"):
        version_num("banana")


def test_time_limit_per_flavour() -> None:
    assert with_time_limit("SELECT 1", "mariadb", 5) == "SET STATEMENT max_statement_time=5.000 FOR SELECT 1"
    assert (
        with_time_limit("  select a FROM t", "mysql", 2.5)
        == "SELECT /*+ MAX_EXECUTION_TIME(2500) */ a FROM t"
    )
    assert with_time_limit("SHOW REPLICA STATUS", "mysql", 5) == "SHOW REPLICA STATUS"


def test_privileges_and_grants_per_flavour() -> None:
    user = grantee("headroom@10.0.%")
    assert user == "'headroom'@'10.0.%'"
    assert (
        grant_statement("REPLICA MONITOR", "mariadb", user)
        == "GRANT REPLICA MONITOR ON *.* TO 'headroom'@'10.0.%';"
    )
    assert (
        grant_statement("REPLICA MONITOR", "mysql", user)
        == "GRANT REPLICATION CLIENT ON *.* TO 'headroom'@'10.0.%';"
    )
    assert grant_statement("REPLICATION CLIENT", "mariadb", user).startswith("GRANT BINLOG MONITOR ON *.*")
    assert grant_statement("SELECT ON performance_schema", "mysql", user) == (
        "GRANT SELECT ON performance_schema.* TO 'headroom'@'10.0.%';"
    )
    assert satisfied("REPLICA MONITOR", "mariadb", {"SLAVE MONITOR"})
    assert not satisfied("REPLICA MONITOR", "mariadb", {"BINLOG MONITOR"})
    assert satisfied("SHOW VIEW", "mysql", {"SELECT"})
    msg = "Access denied; you need (at least one of) the PROCESS privilege(s) for this operation"
    assert (
        privilege_from_error(1227, msg, "SELECT * FROM information_schema.INNODB_TRX", "mysql") == "PROCESS"
    )
    msg = "Access denied; you need (at least one of) the SUPER, SLAVE MONITOR privilege(s) for this operation"
    assert privilege_from_error(1227, msg, "SHOW ALL SLAVES STATUS", "mariadb") == "REPLICA MONITOR"
    msg = "SELECT command denied to user 'x'@'h' for table `performance_schema`.`events_statements_summary_by_digest`"
    assert privilege_from_error(1142, msg, "", "mysql") == "SELECT ON performance_schema"


# --------------------------------------------------------------------------- DSN and TLS


def test_dsn_plain_and_secret() -> None:
    d = parse_mysql_dsn("mysql://mon:s3cr%40t@db1.example.com:3307/app")
    assert (d.host, d.port, d.user, d.password, d.database) == (
        "db1.example.com",
        3307,
        "mon",
        "s3cr@t",
        "app",
    )
    assert "s3cr" not in d.where() and "s3cr" not in repr(d)
    assert d.tls_context() is None and "ssl" not in d.connect_kwargs()


def test_dsn_tls_options_are_honoured(tmp_path: Path) -> None:
    ca = ssl.get_default_verify_paths().cafile
    if ca is None or not Path(ca).exists():
        ca = "/etc/ssl/certs/ca-certificates.crt"
    ident = parse_mysql_dsn(f"mysql://mon@db1:3306/?ssl_ca={ca}&ssl_verify_identity=true").tls_context()
    assert ident is not None and ident.check_hostname and ident.verify_mode == ssl.CERT_REQUIRED
    verify_ca = parse_mysql_dsn(f"mysql://mon@db1/?ssl_ca={ca}").tls_context()
    assert (
        verify_ca is not None and not verify_ca.check_hostname and verify_ca.verify_mode == ssl.CERT_REQUIRED
    )
    required = parse_mysql_dsn("mysql://mon@db1/?ssl_mode=REQUIRED").tls_context()
    assert required is not None and required.verify_mode == ssl.CERT_NONE
    assert parse_mysql_dsn(f"mysql://mon@db1/?ssl_ca={ca}&ssl_disabled=true").tls_context() is None
    kwargs = parse_mysql_dsn(f"mysql://mon@db1/?ssl_mode=VERIFY_IDENTITY&ssl_ca={ca}").connect_kwargs()
    assert isinstance(kwargs["ssl"], ssl.SSLContext) and kwargs["ssl"].check_hostname
    with pytest.raises(FileNotFoundError):
        parse_mysql_dsn(f"mysql://mon@db1/?ssl_ca={tmp_path / 'missing.pem'}").tls_context()


@pytest.mark.parametrize(
    ("dsn", "message"),
    [
        ("mysql://mon@db1/?sslca=/x", "unknown option 'sslca'"),
        ("mysql://mon@db1/?ssl_mode=SOMETIMES", "ssl_mode"),
        ("mysql://mon@db1/?ssl_verify_identity=maybe", "ssl_verify_identity"),
        ("postgresql://mon@db1/", "mysql://"),
        ("mysql://mon@db1:port/", "port"),
    ],
)
def test_dsn_errors_name_the_problem(dsn: str, message: str) -> None:
    with pytest.raises(DsnError, match=message):
        parse_mysql_dsn(dsn)


# --------------------------------------------------------------------------- MySQL SQL on a real server

# MySQL-flavour SQL that MariaDB 10.6+ also understands (performance_schema.global_status exists there
# since 10.5.2, the statement summaries and information_schema views are shared). mysql_innodb_history
# is left out: MariaDB's INNODB_METRICS has ENABLED where MySQL has STATUS.
SHARED_SQL = [
    "mysql_connections",
    "mysql_queries",
    "mysql_commands",
    "mysql_innodb_buffer_pool",
    "mysql_innodb_row_locks",
    "mysql_table_cache",
    "mysql_tmp_tables",
    "mysql_server",
    "mysql_long_transactions",
    "mysql_processlist",
    "mysql_schema_sizes",
    "mysql_table_sizes",
    "mysql_table_io",
    "mysql_rows",
    "mysql_user_statements",
]


@pytest.mark.parametrize("name", SHARED_SQL)
def test_mysql_sql_runs_on_a_real_server(mariadb_pair: MariaDbPair, name: str) -> None:
    d = DEFS[name]
    sql = with_time_limit(d.sql_for("mysql", 80400) or "", "mysql", 5.0)
    assert "MAX_EXECUTION_TIME(5000)" in sql
    conn = mariadb_pair.root_connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            columns = {c[0] for c in cur.description or ()}
            cur.fetchall()
    finally:
        conn.close()
    expected = (set(d.names) - set(d.ratios)) | set(d.tags) | d.ratio_inputs()
    assert expected <= columns, expected - columns
