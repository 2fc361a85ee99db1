"""The plan job for a runner's target, by engine (None when the target has no plans to capture)."""

from __future__ import annotations

from typing import Any

from collectors.batch import Batch
from collectors.engines.base import MissingFeature
from collectors.plans.job import PlanJob, PlanSettings


def plan_job_for(runner: Any, settings: PlanSettings | None = None) -> PlanJob | None:
    """A job over the runner's engine and store, once the runner knows the server (``runner.info``)."""
    info = runner.info
    if runner.store is None or info is None:
        return None
    if settings is None:
        configured = getattr(runner.settings, "plans", None)
        if configured is not None and not configured.enabled:
            return None
        settings = PlanSettings.from_config(configured)
    backend: Any
    if info.flavour == "postgres":
        from collectors.engines.postgres import PostgresEngine
        from collectors.plans.pg_backend import PgPlanBackend

        if not isinstance(runner.engine, PostgresEngine):
            return None
        backend = PgPlanBackend(
            runner.engine,
            info.version_num,
            runner.timeout,
            info.current_user,
            min_table_rows=settings.min_table_rows,
        )
    elif info.flavour in ("mysql", "mariadb"):
        from collectors.engines.mysql import MySqlEngine
        from collectors.plans.mysql_backend import MySqlPlanBackend

        if not isinstance(runner.engine, MySqlEngine):
            return None
        backend = MySqlPlanBackend(
            runner.engine,
            info.flavour,
            runner.timeout,
            info.current_user,
            min_table_rows=settings.min_table_rows,
        )
    else:
        return None

    def report(exc: MissingFeature, batch: Batch, ts: int) -> None:
        runner.features.missing("plans", exc, runner.clock(), ts, batch)

    return PlanJob(runner.name, runner.store, backend, settings, report_missing=report)
