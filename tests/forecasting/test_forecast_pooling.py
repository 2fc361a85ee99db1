"""The forecaster pools model-choice evidence over the series of one metric across targets (a
real SQLite store), keeps the explanation in the row's details, and the report shows it; an idle
replica's connections get no date."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sqlalchemy import select

from forecasting.config import ForecastingConfig
from forecasting.report import render_report_html
from forecasting.resources import TargetInfo
from forecasting.runner import forecast_targets
from store import Sample, open_store
from store.schema import forecasts

NOW = 1_767_225_600  # 2026-01-01 00:00 UTC, pinned
HOUR = 3600


def _connections(rng: np.random.Generator, hours: np.ndarray, base: float, amp: float) -> np.ndarray:
    return base + amp * np.sin(2 * np.pi * (hours % 24) / 24) + rng.normal(0, 2, len(hours))


def test_choice_is_pooled_across_targets_and_explained(tmp_path: Path) -> None:
    st = open_store(f"sqlite:///{tmp_path / 'metrics.db'}")
    try:
        rng = np.random.default_rng(21)
        hours = np.arange(20 * 24)
        ts = NOW - (len(hours) - 1 - hours) * HOUR
        samples: list[Sample] = []
        for name, base in (("a", 40.0), ("b", 60.0)):
            for t, v in zip(ts, _connections(rng, hours, base, base / 3), strict=True):
                samples.append(Sample(name, "pg_connections_used", {}, int(t), float(v)))
            samples.append(Sample(name, "pg_max_connections", {}, int(ts[-1]), 100.0))
        # an idle replica: one connection, now and then two
        idle = 1 + (rng.random(len(hours)) < 0.2)
        samples += [
            Sample("idle", "pg_connections_used", {}, int(t), float(v)) for t, v in zip(ts, idle, strict=True)
        ]
        samples.append(Sample("idle", "pg_max_connections", {}, int(ts[-1]), 100.0))
        st.write_samples(samples)
        targets = [TargetInfo(n, "postgres") for n in ("a", "b", "idle")]

        first = forecast_targets(st, targets, now=NOW)
        assert first.errors == 0 and first.full == 3
        # a week later the next full selection learns from the other targets' stored evidence
        settings = ForecastingConfig(reselect_every=60)
        second = forecast_targets(st, targets, settings, now=NOW + HOUR)
        assert second.errors == 0 and second.full == 3

        with st.engine.connect() as conn:
            rows = conn.execute(
                select(forecasts)
                .where(forecasts.c.resource == "connections")
                .order_by(forecasts.c.created_at)
            ).all()
        latest = {r.target_id: r for r in rows if r.created_at == NOW + HOUR}
        assert len(latest) == 3
        for r in latest.values():
            details = json.loads(r.details_json)
            main = details["selection"]["main"]
            assert main["group"] == "weekly" and "seasonal_naive" in main["scores"]
            ex = main["explain"]
            assert ex["model"] == r.model and ex["origins"] == 12
            assert ex["pooled_series"] == 3  # itself and the two other targets of the metric
            assert isinstance(ex["significant"], bool) and ex["verdict"] in (
                "better",
                "worse",
                "no_difference",
            )
        idle_id = st.ensure_target("idle", "postgres", {})
        idle_row = latest[idle_id]
        assert idle_row.p10_ts is None and idle_row.status == "no_crossing"
        trend = json.loads(idle_row.details_json)["selection"]["capacity"]["explain"]["trend"]
        assert trend["significant"] is False
        html = render_report_html(st, now=NOW + HOUR)
        assert "model choice" in html and "origins" in html
    finally:
        st.close()
