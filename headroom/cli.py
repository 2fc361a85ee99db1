"""The ``headroom`` command line.

Each stage command loads the configuration (exit 2 on any config error, before doing anything),
then imports its stage inside the command (an ordinary import, lazy so that ``headroom --help`` and
the other commands start fast) and calls the stage's entry function. Any other failure prints one
``error:`` line (secrets masked) and exits 1; ``--debug`` adds the traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from headroom.cli_silence import silence
from headroom.cli_support import (
    EXIT_ERROR,
    State,
    add_global_options,
    align,
    current_state,
    duration_option,
    err,
    exit_with,
    fail,
    guarded,
    load,
)
from headroom.selfmetrics import serve_stage
from headroom_core import redact
from headroom_core.redact import mask

if TYPE_CHECKING:
    from headroom.config import HeadroomConfig


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    default=None,
    help="Configuration file (default: $HEADROOM_CONFIG, else ./headroom.yaml).",
)
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the log to this file.",
)
@click.option("--debug", is_flag=True, help="Print tracebacks of unexpected errors.")
@click.version_option(package_name="dbheadroom", prog_name="headroom")
@click.pass_context
def cli(ctx: click.Context, config: str | None, log_level: str, log_file: Path | None, debug: bool) -> None:
    """Headroom: monitoring and capacity planning for PostgreSQL and MySQL/MariaDB fleets."""
    from headroom.logging import setup_logging

    setup_logging(log_level, log_file)
    ctx.obj = State(config, debug, log_level, log_file)


@cli.command()
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@guarded("init")
def init(path: Path | None, force: bool) -> None:
    """Write a fully commented example configuration (every option at its default)."""
    from headroom.config import resolve_config_path
    from headroom.init_template import example_config

    target = path if path is not None else resolve_config_path(current_state().config)
    if target.exists() and not force:
        fail(EXIT_ERROR, f"headroom init: {target} already exists (use --force to overwrite)")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(example_config(), encoding="utf-8")
    click.echo(f"wrote {target}: add your targets under `targets:`, then run `headroom check`")


@cli.command()
@click.option(
    "--advise", is_flag=True, help="Review each target's configuration and security (docs/advisors.md)."
)
@click.option(
    "--format",
    "fmt",
    default="text",
    show_default=True,
    type=click.Choice(["text", "json"]),
    help="Output of --advise.",
)
@guarded("check")
def check(advise: bool, fmt: str) -> None:
    """Validate the configuration, then check every target (reachable, version, missing grants)."""
    cfg = load()
    if advise:
        from headroom.advise import advise_fleet

        exit_with(advise_fleet(cfg, fmt))
        return
    click.echo(f"{cfg.source_path}: configuration OK ({len(cfg.targets)} target(s))")
    _warn_weak_secrets(cfg)
    target_problems = _check_targets(cfg)
    alert_problems = _check_alerts(cfg)
    summary = []
    if target_problems:
        summary.append(f"{target_problems} of {len(cfg.targets)} target(s) need attention")
    if alert_problems:
        summary.append(f"{alert_problems} alerting problem(s)")
    if summary:
        fail(EXIT_ERROR, "headroom check: " + "; ".join(summary))


def _warn_weak_secrets(cfg: HeadroomConfig) -> None:
    from headroom.config import weak_secrets

    for path in weak_secrets(cfg):
        click.echo(
            f"warning: {path}: this secret is weak (shorter than 6 characters, or one word or number); "
            "it is masked only where a password can appear (a URL's password, password= settings). "
            "Use a long random value."
        )


def _check_alerts(cfg: HeadroomConfig) -> int:
    """Rule files, lint against the metrics the collectors produce, channel hosts, failing channels."""
    from alerts.lint import check_alerts
    from collectors.definitions import produced_metric_names

    store = None
    try:
        from store.api import open_configured_store

        store = open_configured_store(cfg, migrate=False)
        schema_ready = store.schema_revision() is not None
    except Exception as exc:  # the store's health is not this section's question
        click.echo(
            mask(f"alerts: channel delivery health not checked: store unavailable ({type(exc).__name__})")
        )
        schema_ready = False
    try:
        lines = list(check_alerts(cfg.alerts, produced_metric_names(), store if schema_ready else None))
    finally:
        if store is not None:
            store.close()
    if not lines:
        click.echo("alerts: rules and channels OK")
    for line in lines:
        click.echo(mask(f"alerts: {line}"))
    return len(lines)


def _check_targets(cfg: HeadroomConfig) -> int:
    if not cfg.targets:
        return 0
    from collectors.check import check_target, format_check

    problems = 0
    table = [["TARGET", "ENGINE", "DSN", "REACHABLE", "VERSION", "ROLE", "PROBLEMS"]]
    details: list[str] = []
    for target in cfg.targets:
        try:
            result = check_target(target)
        except Exception as exc:  # one target's failure never hides the others
            problems += 1
            table.append([target.name, target.engine, target.display_dsn(), "?", "", "", "check failed"])
            details.append(f"{target.name}: check failed: {type(exc).__name__}: {exc}")
            continue
        ok = bool(getattr(result, "ok", False))
        missing = len(getattr(result, "missing", []) or [])
        reachable = bool(getattr(result, "reachable", False))
        problems += 0 if ok else 1
        summary = "none" if ok else (f"{missing} missing" if reachable else "unreachable")
        table.append(
            [
                target.name,
                target.engine,
                target.display_dsn(),
                "yes" if reachable else "NO",
                str(getattr(result, "version", "") or ""),
                str(getattr(result, "role", "") or ""),
                summary,
            ]
        )
        if not ok:
            details.append(format_check(result))
    click.echo(mask(align(table)))
    for block in details:
        click.echo("")
        click.echo(mask(block))
    return problems


@cli.command()
@guarded("migrate")
def migrate() -> None:
    """Bring the store's schema up to date (also done automatically at start)."""
    from headroom.config import store_url_display
    from store.api import open_configured_store

    cfg = load()
    store = open_configured_store(cfg, migrate=False)
    store.migrate()
    click.echo(f"store {store_url_display(cfg)}: schema up to date")


def _parse_shard(_ctx: click.Context, _param: click.Parameter, value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    from collectors.shard import parse_shard

    try:
        return parse_shard(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@cli.command()
@click.option("--once", is_flag=True, help="Poll every target once and exit (exit 1 if one was unreachable).")
@click.option("--interval", callback=duration_option, help="Poll every metric at this interval (e.g. 5s).")
@click.option("--shard", callback=_parse_shard, help="Only the targets of shard i of n (0-based), e.g. 0/3.")
@click.option("--target", "targets", multiple=True, help="Only this target (repeatable).")
@guarded("collect")
def collect(
    once: bool, interval: float | None, shard: tuple[int, int] | None, targets: tuple[str, ...]
) -> None:
    """Collect metrics from the targets into the store."""
    from collectors.scheduler import run_collect

    cfg = load()
    if not once:
        serve_stage(cfg.collector, "collect")
    exit_with(run_collect(cfg, once=once, interval=interval, shard=shard, targets=list(targets) or None))


@cli.command()
@click.option("--once", is_flag=True, help="Forecast every series once and exit.")
@guarded("forecast")
def forecast(once: bool) -> None:
    """Compute forecasts and capacity (time to threshold)."""
    from forecasting.runner import run_forecast

    cfg = load()
    if not once:
        serve_stage(cfg.forecasting, "forecast")
    exit_with(run_forecast(cfg, once=once))


@cli.command()
@click.option("--once", is_flag=True, help="Evaluate and deliver once and exit.")
@guarded("alerts")
def alerts(once: bool) -> None:
    """Evaluate alert rules and deliver notifications."""
    from alerts.service import run_alerts

    cfg = load()
    if not once:
        serve_stage(cfg.alerts, "alerts")
    exit_with(run_alerts(cfg, once=once))


@cli.command()
@click.option("--port", default=8501, show_default=True, type=click.IntRange(1, 65535))
@click.option("--address", default="127.0.0.1", show_default=True)
@guarded("dashboard")
def dashboard(port: int, address: str) -> None:
    """Serve the web dashboard."""
    from dashboard.launch import run_dashboard
    from headroom.config import store_url_revealed

    cfg = load()
    _migrate_for_dashboard(cfg)
    exit_with(
        run_dashboard(
            cfg.source_path, port, address, store_url=store_url_revealed(cfg), dashboard=cfg.dashboard
        )
    )


def _migrate_for_dashboard(cfg: HeadroomConfig) -> None:
    """The dashboard only reads: bring the schema up to date before it starts. A store that is down now
    is reported by the pages, which retry on reload."""
    from store.api import open_configured_store

    try:
        open_configured_store(cfg).close()
    except Exception as exc:
        click.echo(
            mask(f"store not migrated ({type(exc).__name__}: {exc}); the dashboard retries on reload"),
            err=True,
        )


@cli.command()
@guarded("up")
def up() -> None:
    """Run collect, forecast, alerts and dashboard together, supervised."""
    from headroom.supervisor import run_up

    cfg = load()
    exit_with(run_up(cfg))


@cli.command()
@click.option("--history", default=None, help="Generate this much history first (e.g. 21d).")
@click.option("--port", default=8501, show_default=True, type=click.IntRange(1, 65535))
@guarded("demo")
def demo(history: str | None, port: int) -> None:
    """Start throwaway servers with a workload and open the dashboard on them."""
    from headroom.demo import run_demo

    exit_with(run_demo(current_state().config, history=history, port=port))


@cli.command()
@click.option(
    "--out",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (the capacity report needs one; the indexes section prints without it).",
)
@click.option(
    "--section",
    default="capacity",
    show_default=True,
    type=click.Choice(["capacity", "indexes"]),
    help="capacity: the HTML capacity report; indexes: suggested indexes as text.",
)
@guarded("report")
def report(out: Path | None, section: str) -> None:
    """Write the capacity report, or print the suggested indexes."""
    cfg = load()
    if section == "indexes":
        from headroom.index_report import write_index_report

        text = write_index_report(cfg)
        if out is None:
            click.echo(mask(text), nl=False)
        else:
            out.write_text(text, encoding="utf-8")
        return
    if out is None:
        raise click.UsageError("headroom report: --out FILE is required for the capacity report")
    from forecasting.report import write_report

    exit_with(write_report(cfg, out))


@cli.command()
@click.option(
    "--from-prometheus",
    "prometheus_url",
    default=None,
    help="Prometheus base URL (default: the prometheus section of the config).",
)
@click.option("--since", default="180d", show_default=True, callback=duration_option, help="How far back.")
@click.option("--target", "targets", multiple=True, help="Only this target (repeatable).")
@guarded("backfill")
def backfill(prometheus_url: str | None, since: float, targets: tuple[str, ...]) -> None:
    """Import history from Prometheus into the store."""
    cfg = load()
    if prometheus_url is None and cfg.prometheus is None:
        fail(EXIT_ERROR, "headroom backfill: give --from-prometheus URL or configure the prometheus section")
    redact.register_dsn(prometheus_url)
    from collectors.backfill import run_backfill

    exit_with(run_backfill(cfg, prometheus_url=prometheus_url, since=since, targets=list(targets) or None))


@cli.command()
@click.option("--target", required=True, help="Target name.")
@click.option("--metric", default=None, help="Canonical metric name, e.g. pg_database_size_bytes.")
@click.option(
    "--blocking",
    is_flag=True,
    help="Print the blocking trees of the activity snapshot at --end (default: the newest) instead.",
)
@click.option("--label", "labels", multiple=True, help="Only series with this label value: k=v (repeatable).")
@click.option("--since", default=None, help="Range ending now, e.g. 1h, 7d (default 1h).")
@click.option("--start", default=None, help="Start: epoch seconds or ISO-8601 (UTC unless a zone is given).")
@click.option("--end", default=None, help="End: epoch seconds or ISO-8601 (default now).")
@click.option(
    "--format", "fmt", default="table", show_default=True, type=click.Choice(["table", "csv", "json"])
)
@click.option(
    "--resolution",
    default="raw",
    show_default=True,
    type=click.Choice(["raw", "5m", "1h", "auto"]),
    help="raw: the exact stored samples; 5m/1h: rollups; auto: chosen by the range.",
)
@click.option(
    "--agg",
    default="avg",
    show_default=True,
    type=click.Choice(["avg", "min", "max", "last"]),
    help="Which rollup value to print (5m/1h/auto).",
)
@click.option(
    "--max-points",
    default=1500,
    show_default=True,
    type=click.IntRange(1),
    help="Most points per series for --resolution auto.",
)
@guarded("query")
def query(
    target: str,
    metric: str | None,
    blocking: bool,
    labels: tuple[str, ...],
    since: str | None,
    start: str | None,
    end: str | None,
    fmt: str,
    resolution: str,
    agg: str,
    max_points: int,
) -> None:
    """Print stored samples of one metric of one target, exactly (or its blocking trees)."""
    from headroom.query import parse_labels, parse_time, render, time_range
    from store.api import open_configured_store

    if blocking:
        cfg = load()
        store = open_configured_store(cfg, migrate=False)
        try:
            at = parse_time(end) if end is not None else None
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        from headroom.activity_text import blocking_report

        click.echo(mask(blocking_report(store, target, at)), nl=False)
        return
    if metric is None:
        raise click.UsageError("give --metric (or --blocking)")
    try:
        matchers = parse_labels(labels)
        start_ts, end_ts = time_range(since, start, end)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    cfg = load()
    store = open_configured_store(cfg, migrate=False)
    series = store.query_range(
        target,
        metric,
        matchers=matchers,
        start=start_ts,
        end=end_ts,
        max_points=max_points,
        resolution=resolution,
        agg=agg,
    )
    series = [s for s in series if s.points]
    click.echo(mask(render(series, fmt)), nl=False)
    if not series:
        err(
            f"headroom query: no samples of {metric} on target {target!r} matching {matchers or 'any labels'} "
            f"between {start_ts} and {end_ts}"
        )


cli.add_command(silence)
add_global_options(cli)  # `headroom collect --config F` works as `headroom --config F collect`


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    try:
        cli.main(args=argv, prog_name="headroom")
    except Exception as exc:  # outside any command (option callbacks, logging set-up): still one line
        fail(
            EXIT_ERROR,
            f"error: headroom: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}",
        )


if __name__ == "__main__":
    main()
