"""Prometheus, postgres_exporter, mysqld_exporter and Alertmanager from the Debian packages."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import yaml

from testing.servers.managed import ManagedServer, start_on_free_port
from testing.servers.processes import find_binary, make_dir, wait_http_ok

PROMETHEUS_PACKAGE = "prometheus"
POSTGRES_EXPORTER_PACKAGE = "prometheus-postgres-exporter"
MYSQLD_EXPORTER_PACKAGE = "prometheus-mysqld-exporter"
ALERTMANAGER_PACKAGE = "prometheus-alertmanager"


def binary_version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True)
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def prometheus_binary() -> str:
    return find_binary("prometheus", PROMETHEUS_PACKAGE)


def alertmanager_binary() -> str:
    for name in ("prometheus-alertmanager", "alertmanager"):
        try:
            return find_binary(name, ALERTMANAGER_PACKAGE)
        except RuntimeError:
            continue
    return find_binary("prometheus-alertmanager", ALERTMANAGER_PACKAGE)


def postgres_exporter_binary() -> str:
    return find_binary("prometheus-postgres-exporter", POSTGRES_EXPORTER_PACKAGE)


def mysqld_exporter_binary() -> str:
    return find_binary("prometheus-mysqld-exporter", MYSQLD_EXPORTER_PACKAGE)


def prometheus_config(
    scrape_targets: Mapping[str, Sequence[str]],
    scrape_interval: str = "1s",
    evaluation_interval: str = "1s",
    rule_files: Sequence[Path] = (),
    alertmanagers: Sequence[str] = (),
    target_labels: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, object]:
    """A Prometheus configuration: one job per entry of `scrape_targets` (job -> ["host:port", ...])."""
    jobs: list[dict[str, object]] = []
    for job, targets in scrape_targets.items():
        static: dict[str, object] = {"targets": list(targets)}
        if target_labels and job in target_labels:
            static["labels"] = dict(target_labels[job])
        jobs.append(
            {
                "job_name": job,
                "scrape_interval": scrape_interval,
                "scrape_timeout": scrape_interval if scrape_interval.endswith("s") else "10s",
                "static_configs": [static],
            }
        )
    config: dict[str, object] = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": evaluation_interval},
        "scrape_configs": jobs,
    }
    if rule_files:
        config["rule_files"] = [str(p) for p in rule_files]
    if alertmanagers:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": list(alertmanagers)}]}]}
    return config


def start_prometheus(
    base_dir: Path | str,
    scrape_targets: Mapping[str, Sequence[str]],
    scrape_interval: str = "1s",
    evaluation_interval: str = "1s",
    rules: Mapping[str, object] | None = None,
    alertmanagers: Sequence[str] = (),
    target_labels: Mapping[str, Mapping[str, str]] | None = None,
    extra_args: Sequence[str] = (),
) -> ManagedServer:
    """Prometheus on a free loopback port scraping `scrape_targets`; `rules` is a rules-file document."""
    binary = prometheus_binary()
    work = make_dir(Path(base_dir), None, 0o755)
    rule_files: list[Path] = []
    if rules:
        rule_path = work / "rules.yml"
        rule_path.write_text(yaml.safe_dump(dict(rules), sort_keys=False))
        rule_files.append(rule_path)
    config_path = work / "prometheus.yml"
    config_path.write_text(
        yaml.safe_dump(
            prometheus_config(
                scrape_targets, scrape_interval, evaluation_interval, rule_files, alertmanagers, target_labels
            ),
            sort_keys=False,
        )
    )
    tsdb = make_dir(work / "tsdb", None, 0o755)

    def argv(port: int) -> list[str]:
        return [
            binary,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={tsdb}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--rules.alert.resend-delay=1s",
            "--web.enable-lifecycle",
            "--web.enable-admin-api",
            *extra_args,
        ]

    return _start_ready("prometheus", work, argv)


def start_postgres_exporter(base_dir: Path | str, dsn: str, extra_args: Sequence[str] = ()) -> ManagedServer:
    """One postgres_exporter per PostgreSQL instance (0.11 mishandles several DSNs)."""
    binary = postgres_exporter_binary()
    work = make_dir(Path(base_dir), None, 0o755)

    def make(port: int) -> ManagedServer:
        return ManagedServer(
            name="postgres_exporter",
            argv=[binary, f"--web.listen-address=127.0.0.1:{port}", *extra_args],
            port=port,
            log_path=work / "postgres_exporter.log",
            workdir=work,
            env={"DATA_SOURCE_NAME": dsn},
        )

    return start_on_free_port(make)


def start_mysqld_exporter(
    base_dir: Path | str, host: str, port: int, user: str, password: str, extra_args: Sequence[str] = ()
) -> ManagedServer:
    """mysqld_exporter reading its credentials from a private my.cnf (never from the command line)."""
    binary = mysqld_exporter_binary()
    work = make_dir(Path(base_dir), None, 0o755)
    cnf = work / "exporter.my.cnf"
    fd = os.open(cnf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"[client]\nhost={host}\nport={port}\nuser={user}\npassword={password}\n")

    def make(listen_port: int) -> ManagedServer:
        return ManagedServer(
            name="mysqld_exporter",
            argv=[
                binary,
                f"--config.my-cnf={cnf}",
                f"--web.listen-address=127.0.0.1:{listen_port}",
                *extra_args,
            ],
            port=listen_port,
            log_path=work / "mysqld_exporter.log",
            workdir=work,
        )

    return start_on_free_port(make)


def start_alertmanager(
    base_dir: Path | str, config: Mapping[str, object] | None = None, extra_args: Sequence[str] = ()
) -> ManagedServer:
    """Alertmanager on a free loopback port, clustering off (no 0.0.0.0:9094 listener)."""
    binary = alertmanager_binary()
    work = make_dir(Path(base_dir), None, 0o755)
    cfg = (
        dict(config)
        if config
        else {
            "route": {
                "receiver": "null",
                "group_wait": "1s",
                "group_interval": "1s",
                "repeat_interval": "1h",
            },
            "receivers": [{"name": "null"}],
        }
    )
    config_path = work / "alertmanager.yml"
    config_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    storage = make_dir(work / "data", None, 0o755)

    def argv(port: int) -> list[str]:
        return [
            binary,
            f"--config.file={config_path}",
            f"--storage.path={storage}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            *extra_args,
        ]

    return _start_ready("alertmanager", work, argv)


def _start_ready(name: str, work: Path, argv: Callable[[int], list[str]]) -> ManagedServer:
    """Start ``argv(port)`` on a free port and wait until ``/-/ready`` answers (stopped again when it
    never does); its log is ``work/<name>.log``."""

    def make(port: int) -> ManagedServer:
        return ManagedServer(
            name=name, argv=argv(port), port=port, log_path=work / f"{name}.log", workdir=work
        )

    server = start_on_free_port(make)
    try:
        wait_http_ok(server.url + "/-/ready")
    except BaseException:
        server.stop()
        raise
    return server
