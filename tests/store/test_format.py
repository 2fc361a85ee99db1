"""``store.format``: every number a person reads (pages, report, alert texts, CLI) formatted one way."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

import pandas as pd
import pytest

from store import format as fmt

MISSING = [None, float("nan"), float("inf"), "", "n/a", pd.NaT]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1536, "1.54 KB"),
        (5e6, "5 MB"),
        (47_600_000, "47.6 MB"),
        (999_999, "1 MB"),
        (512e6, "512 MB"),
        (3.25e9, "3.25 GB"),
        (2e12, "2 TB"),
        (-2048, "-2.05 KB"),
        (3e15, "3 PB"),
    ],
)
def test_bytes_scale_to_a_readable_unit(value: float, text: str) -> None:
    assert fmt.fmt_bytes(value) == text


def test_sizes_read_in_the_units_the_configuration_takes() -> None:
    """`capacity.disk_bytes: 500GB` is shown as 500 GB (decimal, as ByteSize parses GB); 1 GiB is 1.07 GB."""
    from headroom_core.configtypes import parse_byte_size

    assert fmt.fmt_bytes(parse_byte_size("500GB")) == "500 GB"
    assert fmt.fmt_bytes(parse_byte_size("1GiB")) == "1.07 GB"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (4.2e-6, "4 µs"),
        (0.0042, "4.2 ms"),
        (0.07, "70 ms"),
        (1.5, "1.5 s"),
        (48, "48 s"),
        (66, "1 min 6 s"),
        (120, "2 min"),
        (7500, "2 h 5 min"),
        (3 * 86400 + 4 * 3600, "3 d 4 h"),
        (-66, "-1 min 6 s"),
    ],
)
def test_durations_use_the_two_largest_units(seconds: float, text: str) -> None:
    assert fmt.fmt_duration(seconds) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.9577, "0.958"),
        (128.1953, "128"),
        (36.31, "36.3"),
        (42, "42"),
        (1234, "1.23k"),
        (3_400_000, "3.4M"),
        (2.5e9, "2.5G"),
        (1e-5, "<0.0001"),
        (0.00042, "0.0004"),
        (-1500, "-1.5k"),
    ],
)
def test_numbers_keep_three_significant_digits(value: float, text: str) -> None:
    assert fmt.fmt_number(value) == text


def test_numbers_with_fixed_decimals() -> None:
    assert (
        fmt.fmt_number(0.7312, 2) == "0.73"
        and fmt.fmt_number(1234, 1) == "1.2k"
        and fmt.fmt_number(42, 3) == "42"
    )
    assert fmt.fmt_number(0.123456789, 9) == "0.1235"  # never more than 4 decimals


def test_ratios_dates_rates_and_counts() -> None:
    assert (
        fmt.fmt_pct(0.9876) == "98.8 %"
        and fmt.fmt_pct(0.99876, 2) == "99.88 %"
        and fmt.fmt_pct(-1e-9) == "0.0 %"
    )
    assert fmt.fmt_rate(36.31) == "36.3/s" and fmt.fmt_bytes_rate(18_432) == "18.4 KB/s"
    assert fmt.fmt_count(1_234_567.0) == "1,234,567"
    assert fmt.fmt_decimal(0.9245035050009764) == "0.92"
    assert fmt.fmt_binary(10 * 1024**3) == "10Gi"
    moment = int(datetime(2026, 2, 28, 23, 59, 30, tzinfo=UTC).timestamp())
    assert fmt.fmt_ts(moment) == "2026-02-28 23:59 UTC" and fmt.fmt_date(moment) == "2026-02-28"
    assert fmt.fmt_ts(pd.Timestamp(moment, unit="s", tz="UTC")) == "2026-02-28 23:59 UTC"
    assert fmt.fmt_ts(str(moment)) == "2026-02-28 23:59 UTC"
    assert fmt.fmt_ago(100, 166) == "1 min 6 s ago" and fmt.fmt_ago(200, 100) == "in 1 min 40 s"
    assert fmt.fmt_ago(None, 1) == "never" and fmt.fmt_ago(100, 100.5) == "just now"
    assert fmt.fmt_days(44.2) == "44 d" and fmt.fmt_days(3.46) == "3.5 d" and fmt.fmt_days(-2) == "reached"
    assert fmt.fmt_labels({"team": "db", "env": "prod"}) == "env=prod, team=db"


@pytest.mark.parametrize("missing", MISSING)
def test_a_missing_value_reads_a_dash(missing: object) -> None:
    for f in (
        fmt.fmt_bytes,
        fmt.fmt_duration,
        fmt.fmt_number,
        fmt.fmt_pct,
        fmt.fmt_ts,
        fmt.fmt_date,
        fmt.fmt_days,
        fmt.fmt_rate,
        fmt.fmt_count,
        fmt.fmt_decimal,
        fmt.fmt_ms,
        fmt.fmt_bytes_rate,
        fmt.fmt_binary,
    ):
        assert f(missing) == fmt.DASH, f.__name__  # type: ignore[operator]


@pytest.mark.parametrize("unit", ["bytes", "bytes_rate", "seconds", "ms", "ratio", "count", "rate"])
def test_no_text_has_more_than_four_decimals(unit: str) -> None:
    """Whatever the magnitude, a formatted value never shows a number with more than 4 decimals."""
    long_decimals = re.compile(r"\d\.\d{5,}")
    for exponent in range(-9, 16):
        for mantissa in (1.0, 1.23456789, 9.99999, -4.4444444):
            text = fmt.fmt_value(mantissa * 10.0**exponent, unit)  # type: ignore[arg-type]
            assert not long_decimals.search(text), (unit, exponent, text)
            assert "nan" not in text.lower() and "none" not in text.lower()
            assert text != fmt.DASH or not math.isfinite(mantissa)


def test_units_from_metric_names() -> None:
    assert (
        fmt.unit_of("pg_database_size_bytes") == "bytes" and fmt.unit_of("pg_wal_rate_bytes") == "bytes_rate"
    )
    assert (
        fmt.unit_of("pg_replication_lag_seconds") == "seconds"
        and fmt.unit_of("pg_cache_hit_ratio") == "ratio"
    )
    assert fmt.unit_of("pg_xact_commit_rate") == "rate" and fmt.unit_of("pg_connections") == "count"
