"""Pure parts of the dashboard: formatting, time ranges, chart builders, tables, config, launcher."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from collectors.pg.unused import peers_without_data
from dashboard import charts
from dashboard import format as fmt
from dashboard.config import DashboardConfig
from dashboard.fleet import fleet_table, pg_version_text
from dashboard.growth import growth_table
from dashboard.indexes import findings, peer_scans, quote_ident, unused_on_every_peer
from dashboard.launch import dashboard_env, streamlit_command, write_auth_secrets
from dashboard.timerange import PRESETS, parse_range, previous


def test_label_filter() -> None:
    assert fmt.parse_label_filter(" env=prod , team = db ") == {"env": "prod", "team": "db"}
    with pytest.raises(ValueError, match="'envprod' is not key=value"):
        fmt.parse_label_filter("envprod")


def test_time_ranges() -> None:
    now = 1_800_000_030
    tr = parse_range("24h", now)
    assert tr.end == 1_800_000_060 and tr.seconds == PRESETS["24h"] and tr.label == "24h"
    custom = parse_range("2026-01-01T00:00..2026-01-02T00:00", now)
    assert custom.seconds == 86400 and custom.start == 1_767_225_600
    assert previous(custom).end == custom.start
    with pytest.raises(ValueError, match="the end must be after the start"):
        parse_range("2026-01-02..2026-01-01", now)
    with pytest.raises(ValueError, match="expected one of"):
        parse_range("yesterday", now)


def _series(target: str, values: list[float], step: int = 3600, start: int = 1_800_000_000) -> pd.DataFrame:
    ts = [start + i * step for i in range(len(values))]
    return pd.DataFrame(
        {
            "target": target,
            "metric": "m",
            "series": target,
            "labels": "{}",
            "ts": ts,
            "time": pd.to_datetime(ts, unit="s", utc=True),
            "value": values,
            "resolution_s": 0,
        }
    )


def test_time_series_spec_units_colours_and_events() -> None:
    df = pd.concat([_series("b", [1024.0, 2048.0]), _series("a", [1.0, 2.0])])
    events = pd.DataFrame(
        {
            "time": pd.to_datetime([1_800_000_000], unit="s", utc=True),
            "kind": ["restart"],
            "message": ["restarted"],
            "severity": ["warning"],
            "target": ["a"],
        }
    )
    spec = charts.time_series(df, "Size", "bytes", ["c", "b", "a"], events=events).to_dict()
    line, rule = spec["layer"]
    scale = line["encoding"]["color"]["scale"]
    assert scale["domain"] == ["a", "b", "c"]  # same colour for the same target on every chart
    assert scale["range"][:3] == charts.PALETTE[:3]
    assert "' MB'" in line["encoding"]["y"]["axis"]["labelExpr"]
    assert rule["mark"]["type"] == "rule"
    data = spec["datasets"][line["data"]["name"]]
    assert {d["shown"] for d in data} == {"1.02 KB", "2.05 KB", "1 B", "2 B"}


def test_forecast_chart_has_bands_and_threshold() -> None:
    fc = pd.DataFrame(
        {
            "ts": [1, 2],
            "yhat": [1.0, 2.0],
            "lo80": [0.5, 1.5],
            "hi80": [1.5, 2.5],
            "lo95": [0.0, 1.0],
            "hi95": [2.0, 3.0],
        }
    )
    fc["time"] = pd.to_datetime(fc["ts"], unit="s", utc=True)
    spec = charts.forecast(_series("a", [1.0]), fc, "disk", "bytes", threshold=2.5).to_dict()
    marks = [
        layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"] for layer in spec["layer"]
    ]
    assert marks.count("area") == 2 and "rule" in marks and marks.count("line") == 2


def test_fleet_table_worst_first() -> None:
    targets = pd.DataFrame(
        {"name": ["ok", "down", "busy"], "engine": ["postgres"] * 3, "labels": [{}, {}, {}]}
    )
    now = 1_800_000_000

    def latest(rows: list[tuple[str, float]], **labels: str) -> pd.DataFrame:
        df = pd.DataFrame([{"target": t, "value": v, "ts": now - 10} for t, v in rows])
        for k, v in labels.items():
            df[f"label_{k}"] = v
        return df

    frames = {
        "up": latest([("ok", 1), ("down", 0), ("busy", 1)]),
        "pg_connections": latest([("ok", 10), ("busy", 90)]),
        "pg_max_connections": latest([("ok", 100), ("busy", 100)]),
        "pg_server_version_num": latest([("ok", 160004)]),
    }
    empty = pd.DataFrame(columns=["labels_json", "state"])
    table = fleet_table(targets, frames, empty, pd.DataFrame(), {}, now)
    assert list(table["target"]) == ["down", "busy", "ok"]
    assert table.set_index("target").loc["busy", "conn_pct"] == pytest.approx(0.9)
    assert table.set_index("target").loc["ok", "version"] == "16.4"
    assert pg_version_text(90624) == "9.6.24"


def test_growth_per_day_and_week() -> None:
    day = 86400
    df = _series("a", [100.0, 150.0, 300.0], step=day * 3 + 3600)  # 0, 3d+1h, 6d+2h
    g = growth_table(df, 0)
    # from the last point at least a day older (150 at 3d+1h) to the newest (300 at 6d+2h), per day
    assert g.iloc[0]["per_day_bytes"] == pytest.approx(150.0 * day / (3 * day + 3600))
    # less than a week of history: measured from the first point
    assert g.iloc[0]["per_week"] == fmt.fmt_bytes(200.0 * 7 * day / (6 * day + 7200))


def test_index_findings_ddl_and_cross_replica_check() -> None:
    df = pd.DataFrame(
        [
            {
                "target": "p",
                "value": 8192.0,
                "label_datname": "app",
                "label_schemaname": "public",
                "label_relname": "t",
                "label_indexrelname": 'ix "odd"',
            },
            {
                "target": "p",
                "value": 4096.0,
                "label_datname": "app",
                "label_schemaname": "public",
                "label_relname": "t",
                "label_indexrelname": "ix_used_on_standby",
            },
        ]
    )
    scans = pd.DataFrame(
        [
            {
                "target": "s",
                "value": 3.0,
                "label_datname": "app",
                "label_schemaname": "public",
                "label_relname": "t",
                "label_indexrelname": "ix_used_on_standby",
            },
            {
                "target": "s",
                "value": 0.0,
                "label_datname": "app",
                "label_schemaname": "public",
                "label_relname": "t",
                "label_indexrelname": 'ix "odd"',
            },
        ]
    )
    out = findings(unused_on_every_peer(df, peer_scans(scans, {"s"})), "unused")
    assert list(out["index"]) == ['ix "odd"']
    # a peer without data for an index leaves it off the list; one with no data at all is named
    assert unused_on_every_peer(df, peer_scans(scans.iloc[:1], {"s"})).empty
    silent = peer_scans(scans, {"s", "quiet"})
    assert unused_on_every_peer(df, silent).empty and peers_without_data(silent) == ["quiet"]
    assert len(unused_on_every_peer(df, peer_scans(scans, set()))) == 2  # no peers: the target's own finding
    assert out.iloc[0]["ddl"] == 'DROP INDEX CONCURRENTLY IF EXISTS "public"."ix ""odd""";'
    assert findings(df, "bloat").iloc[0]["ddl"].startswith("REINDEX INDEX CONCURRENTLY")
    assert quote_ident("a") == '"a"'


def test_config_permissions_and_errors(tmp_path: Path) -> None:
    assert DashboardConfig().can_write(None) is False
    assert DashboardConfig(read_only=False).can_write(None) is True
    (tmp_path / "cs").write_text("client-secret-value\n")
    (tmp_path / "ck").write_text("cookie-secret-value-of-32-bytes-at-least\n")
    cfg = DashboardConfig.model_validate(
        {
            "auth": {
                "server_metadata_url": "https://idp.example/.well-known/openid-configuration",
                "client_id": "headroom",
                "client_secret_file": str(tmp_path / "cs"),
                "cookie_secret_file": str(tmp_path / "ck"),
                "redirect_uri": "https://h.example/oauth2callback",
            },
            "admins": ["Alice@example.com"],
        }
    )
    assert cfg.can_write("alice@example.com", True) and not cfg.can_write("bob@example.com", True)
    assert not cfg.can_write(None, True) and not cfg.can_write(
        "alice@example.com"
    )  # unverified: no admin rights
    assert "client-secret-value" not in repr(cfg) and "client-secret-value" not in cfg.model_dump_json()
    with pytest.raises(ValidationError, match="client_secret"):
        DashboardConfig.model_validate(
            {
                "auth": {
                    "server_metadata_url": "https://x",
                    "client_id": "c",
                    "cookie_secret": "k" * 32,
                    "redirect_uri": "https://r",
                }
            }
        )
    with pytest.raises(ValidationError, match="unknown|Extra inputs"):
        DashboardConfig.model_validate({"read_onyl": True})

    secrets = write_auth_secrets(cfg, tmp_path)
    assert secrets is not None
    assert stat.S_IMODE(os.stat(secrets).st_mode) == 0o600
    text = secrets.read_text()
    assert "[auth]" in text and json.dumps("client-secret-value") in text


def test_launcher_passes_the_store_url_only_through_the_environment(tmp_path: Path) -> None:
    url = "postgresql+psycopg://headroom:s3cr3t-store-pw@127.0.0.1:5999/metrics"
    cmd = streamlit_command(8123, "127.0.0.1", None)
    assert not any("s3cr3t" in part for part in cmd)
    assert cmd[cmd.index("--server.port") + 1] == "8123"
    cfg = DashboardConfig.model_validate(
        {
            "auth": {
                "server_metadata_url": "https://idp.example/x",
                "client_id": "c",
                "client_secret": "cs-1234",
                "cookie_secret": "ck-5678-cookie-secret-of-32-bytes",
                "redirect_uri": "https://h.example/oauth2callback",
                "allowed_domains": ["example.com"],
            },
            "admins": ["a@example.com"],
        }
    )
    env = dashboard_env(url, tmp_path / "headroom.yaml", cfg)
    assert env["HEADROOM_STORE_URL"] == url
    # the app learns that sign-in is on and who the admins are, never the OIDC secrets
    policy = json.loads(env["HEADROOM_DASHBOARD"])
    assert policy == {
        "auth_enabled": True,
        "admins": ["a@example.com"],
        "read_only": True,
        "refresh_seconds": 60,
        "allowed_domains": ["example.com"],
        "allowed_emails": [],
        "require_verified_email": True,
    }
    assert "cs-1234" not in env["HEADROOM_DASHBOARD"] and "ck-5678" not in env["HEADROOM_DASHBOARD"]
    assert env["HEADROOM_CONFIG"] == str((tmp_path / "headroom.yaml").resolve())


def _latest(rows: list[tuple[str, str, dict[str, str], float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"target": t, "metric": m, "ts": 1000, "value": v, **{f"label_{k}": x for k, x in lab.items()}}
            for t, m, lab, v in rows
        ]
    )


def test_pgbouncer_pools_without_their_database_sizes_yet() -> None:
    """Pools are polled every 15 s and SHOW DATABASES every minute: until the sizes arrive a pool shows
    its server connections alone, never "of nan"; the console's pool is left out."""
    from dashboard.pgbouncer import pools, pools_shown, totals

    pool = {"database": "app", "user": "u"}
    latest = _latest(
        [
            ("b", "pgbouncer_pool_client_active", pool, 4.0),
            ("b", "pgbouncer_pool_server_active", pool, 1.0),
            ("b", "pgbouncer_pool_server_idle", pool, 2.0),
            ("b", "pgbouncer_pool_client_waiting", pool, 0.0),
            ("b", "pgbouncer_pool_client_active", {"database": "pgbouncer", "user": "pgbouncer"}, 1.0),
        ]
    )
    df = pools(latest)
    assert list(df["database"]) == ["app"]
    shown = pools_shown(df, 1010).iloc[0].to_dict()
    assert shown["clients idle"] == "3" and shown["servers busy of pool size"] == "1"
    assert shown["servers open"] == "3"
    assert (
        shown["pool busy"] == fmt.DASH and shown["reserve"] == fmt.DASH and shown["longest wait"] == fmt.DASH
    )
    sums = totals(df)
    assert (sums.pools, sums.waiting, sums.servers, sums.capacity, sums.longest_wait) == (
        1,
        0.0,
        3.0,
        None,
        None,
    )
    assert totals(pools(pd.DataFrame(columns=["target", "metric", "ts", "value", "labels"]))).pools == 0


def test_fleet_shows_a_pgbouncer_as_a_pooler() -> None:
    targets = pd.DataFrame([{"name": "b", "engine": "pgbouncer", "labels": {}}])
    pool = {"database": "app", "user": "u"}
    latest = {
        "up": _latest([("b", "up", {}, 1.0)]),
        "pgbouncer_pool_server_active": _latest([("b", "pgbouncer_pool_server_active", pool, 4.0)]),
        "pgbouncer_database_pool_size": _latest(
            [("b", "pgbouncer_database_pool_size", {"database": "app"}, 5.0)]
        ),
    }
    row = fleet_table(targets, latest, pd.DataFrame(), pd.DataFrame(), {}, 1010).iloc[0]
    assert (row["role"], row["status"], row["conn_pct"]) == ("pooler", "up", 0.8)
