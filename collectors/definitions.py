"""Metric definitions as data: one YAML file per metric under ``collectors/metrics/<engine>/``.

The format is described in docs/architecture.md ("Collector contract"). PostgreSQL definitions key
``sql`` by minimum ``server_version_num``; MySQL definitions key it by flavour first
(``sql: {mysql: {80000: ...}, mariadb: {100600: ...}}``). A definition may instead (or also) name
a Python function (``python: package.module:function``) for metrics that are not one SQL statement.
:meth:`MetricDef.sql_for` picks the SQL of the closest lower (or equal) version.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal, cast

import yaml

from headroom_core.configtypes import parse_positive_duration

METRICS_ROOT = Path(__file__).parent / "metrics"

Scope = Literal["instance", "database"]
Role = Literal["primary", "standby", "any"]

#: flavour used for engines whose definitions key ``sql`` by version only
DEFAULT_FLAVOUR: dict[str, str] = {"postgres": "postgres", "pgbouncer": "pgbouncer"}
#: prefix of default metric names per engine
NAME_PREFIX: dict[str, str] = {"postgres": "pg", "mysql": "mysql", "pgbouncer": "pgbouncer"}

_KEYS = {
    "description",
    "interval",
    "scope",
    "role",
    "requires",
    "limit",
    "tags",
    "gauges",
    "names",
    "sql",
    "python",
    "timeout",
    "counters_total",
    "ignore",
    "ratios",
    "reset_time",
}
_REQUIRE_KINDS = {"extension", "privilege", "setting", "function", "view"}


class DefinitionError(ValueError):
    """A metric definition file is invalid; the message names the file and the field."""


@dataclass(frozen=True)
class Requirement:
    """What a metric needs besides a connection: ``{extension: pg_stat_statements}``,
    ``{privilege: pg_read_all_stats}``, ``{setting: performance_schema}`` ..."""

    kind: str
    name: str


@dataclass(frozen=True)
class Ratio:
    """A ratio of counter deltas over each poll interval, stored as a gauge:
    ``sum(Δpart) / sum(Δwhole)`` (``complement``: one minus that). Written only when every counter
    has a delta this interval (not on the first poll, nor across a reset) and ``sum(Δwhole) >=
    min_whole``: an interval with almost no activity says nothing about a hit ratio."""

    part: tuple[str, ...]
    whole: tuple[str, ...]
    complement: bool = False
    min_whole: float = 1.0

    @property
    def columns(self) -> set[str]:
        return set(self.part) | set(self.whole)


@dataclass(frozen=True)
class MetricDef:
    name: str
    engine: str
    description: str
    interval: float
    scope: Scope = "instance"
    role: Role = "any"
    requires: tuple[Requirement, ...] = ()
    limit: int | None = None
    tags: tuple[str, ...] = ()
    gauges: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    names: Mapping[str, str] = field(default_factory=dict)
    sql: Mapping[str, Mapping[int, str]] = field(default_factory=dict)
    python: str | None = None
    timeout: float | None = None
    source: Path | None = None
    ratios: Mapping[str, Ratio] = field(default_factory=dict)
    reset_time: str | None = None  # column: when the server last reset these counters (epoch / timestamptz)

    def sql_for(self, flavour: str, version: int) -> str | None:
        """SQL for ``flavour`` at server ``version``: the closest lower (or equal) version wins.
        None when the server is older than every variant (or the flavour has none)."""
        variants = self.sql.get(flavour)
        if not variants:
            return None
        eligible = [v for v in variants if v <= version]
        if not eligible:
            return None
        return variants[max(eligible)]

    def min_version(self, flavour: str) -> int | None:
        variants = self.sql.get(flavour)
        return min(variants) if variants else None

    def metric_name(self, column: str, counter: bool) -> str:
        """Canonical name of a value column: ``names:`` wins, else ``<prefix>_<column>`` (+``_rate``)."""
        if column in self.names:
            return self.names[column]
        base = f"{NAME_PREFIX.get(self.engine, self.engine)}_{column}"
        return base + "_rate" if counter else base

    def is_gauge(self, column: str) -> bool:
        return column in self.gauges

    def produced_names(self) -> set[str]:
        """Metric names this definition is known to produce: its ``names:`` and its named gauges
        (other counters get ``<prefix>_<column>_rate`` from whatever columns the SQL returns)."""
        return (
            set(self.names.values())
            | {self.metric_name(g, False) for g in self.gauges}
            | {self.metric_name(r, False) for r in self.ratios}
        )

    def ratio_inputs(self) -> set[str]:
        """Counter columns the ratios read (tracked even when listed in ``ignore``)."""
        return {c for r in self.ratios.values() for c in r.columns}

    def python_function(self) -> Callable[..., Any]:
        if not self.python:
            raise DefinitionError(f"{self.source}: python: not set")
        return load_callable(self.python)


def load_callable(ref: str) -> Callable[..., Any]:
    """``package.module:function`` → the function."""
    module_name, _, func_name = ref.partition(":")
    if not module_name or not func_name:
        raise DefinitionError(f"python: {ref!r} must look like package.module:function")
    module = importlib.import_module(module_name)
    fn = getattr(module, func_name, None)
    if not callable(fn):
        raise DefinitionError(f"python: {ref!r}: {module_name} has no function {func_name}")
    return fn


def _str_tuple(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DefinitionError(f"{where}: expected a list of column names")
    return tuple(value)


def _versions(value: Any, where: str) -> dict[int, str]:
    if isinstance(value, str):
        return {0: value}
    if not isinstance(value, dict) or not value:
        raise DefinitionError(f"{where}: expected a mapping of minimum version → SQL")
    out: dict[int, str] = {}
    for k, v in value.items():
        try:
            ver = int(k)
        except (TypeError, ValueError):
            raise DefinitionError(f"{where}: version key {k!r} is not an integer (e.g. 130000)") from None
        if not isinstance(v, str) or not v.strip():
            raise DefinitionError(f"{where}.{k}: expected SQL text")
        out[ver] = v.strip()
    return out


def _ratios(value: Any, where: str, gauges: tuple[str, ...]) -> dict[str, Ratio]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DefinitionError(f"{where}: expected a mapping name → {{part: [...], whole: [...]}}")
    out: dict[str, Ratio] = {}
    for name, spec in value.items():
        at = f"{where}.{name}"
        if not isinstance(spec, dict) or set(spec) - {"part", "whole", "complement", "min_whole"}:
            raise DefinitionError(
                f"{at}: expected {{part: [columns], whole: [columns], complement: false, min_whole: 1}}"
            )
        part, whole = _str_tuple(spec.get("part"), f"{at}.part"), _str_tuple(spec.get("whole"), f"{at}.whole")
        if not part or not whole:
            raise DefinitionError(f"{at}: part and whole are both required")
        if set(part + whole) & set(gauges):
            raise DefinitionError(f"{at}: part and whole must be counters, not gauges")
        min_whole = spec.get("min_whole", 1)
        if not isinstance(min_whole, int | float) or min_whole <= 0:
            raise DefinitionError(f"{at}.min_whole: expected a positive number")
        out[str(name)] = Ratio(part, whole, bool(spec.get("complement", False)), float(min_whole))
    return out


def _duration(value: Any, where: str, field_name: str) -> float:
    try:
        seconds = parse_positive_duration(value)
    except ValueError as exc:
        raise DefinitionError(f"{where}: {field_name}: {exc}") from None
    if seconds <= 0:
        raise DefinitionError(f"{where}: {field_name}: must be positive")
    return seconds


def _choice(data: Mapping[str, Any], key: str, default: str, allowed: tuple[str, ...], where: str) -> str:
    value = data.get(key, default)
    if value not in allowed:
        raise DefinitionError(
            f"{where}: {key}: must be {', '.join(allowed[:-1])} or {allowed[-1]}, not {value!r}"
        )
    return str(value)


def _requirements(value: Any, where: str) -> tuple[Requirement, ...]:
    req = value or {}
    if not isinstance(req, dict):
        raise DefinitionError(f"{where}: requires: expected a mapping like {{extension: pg_stat_statements}}")
    requires: list[Requirement] = []
    for kind, items in req.items():
        if kind not in _REQUIRE_KINDS:
            raise DefinitionError(
                f"{where}: requires: unknown kind {kind!r} ({', '.join(sorted(_REQUIRE_KINDS))})"
            )
        requires.extend(Requirement(kind, item) for item in _str_tuple(items, f"{where}: requires.{kind}"))
    return tuple(requires)


def _names(value: Any, where: str) -> dict[str, str]:
    names = value or {}
    if not isinstance(names, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in names.items()
    ):
        raise DefinitionError(f"{where}: names: expected a mapping column → metric name")
    return dict(names)


def _sql(raw_sql: Any, engine: str, where: str) -> dict[str, dict[int, str]]:
    """``sql:`` by flavour and minimum version; engines with one flavour key it by version only."""
    if raw_sql is None:
        return {}
    default_flavour = DEFAULT_FLAVOUR.get(engine)
    if default_flavour is not None:
        return {default_flavour: _versions(raw_sql, f"{where}: sql")}
    if not isinstance(raw_sql, dict):
        raise DefinitionError(f"{where}: sql: expected {{flavour: {{min_version: SQL}}}}")
    return {
        str(flavour): _versions(variants, f"{where}: sql.{flavour}") for flavour, variants in raw_sql.items()
    }


def _fields(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise DefinitionError(f"{where}: expected a mapping")
    unknown = set(data) - _KEYS
    if unknown:
        raise DefinitionError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        raise DefinitionError(f"{where}: description: required")
    limit = data.get("limit")
    if limit is not None and (not isinstance(limit, int) or limit <= 0):
        raise DefinitionError(f"{where}: limit: expected a positive integer")
    python = data.get("python")
    if python is not None and (not isinstance(python, str) or ":" not in python):
        raise DefinitionError(f"{where}: python: expected package.module:function")
    reset_time = data.get("reset_time")
    if reset_time is not None and not isinstance(reset_time, str):
        raise DefinitionError(f"{where}: reset_time: expected a column name")
    return data


def parse_definition(name: str, engine: str, data: Any, source: Path | None = None) -> MetricDef:
    """One metric definition (a YAML file's mapping), validated field by field; every error names the
    file and the field."""
    where = str(source or name)
    data = _fields(data, where)
    interval = _duration(data.get("interval", "60s"), where, "interval")
    timeout = None if data.get("timeout") is None else _duration(data["timeout"], where, "timeout")
    sql = _sql(data.get("sql"), engine, where)
    if not sql and not data.get("python"):
        raise DefinitionError(f"{where}: needs sql: or python:")
    gauges = _str_tuple(data.get("gauges"), f"{where}: gauges")
    return MetricDef(
        name=name,
        engine=engine,
        description=str(data["description"]).strip(),
        interval=interval,
        scope=cast(Scope, _choice(data, "scope", "instance", ("instance", "database"), where)),
        role=cast(Role, _choice(data, "role", "any", ("primary", "standby", "any"), where)),
        requires=_requirements(data.get("requires"), where),
        limit=data.get("limit"),
        tags=_str_tuple(data.get("tags"), f"{where}: tags"),
        gauges=gauges,
        ignore=_str_tuple(data.get("ignore"), f"{where}: ignore"),
        names=_names(data.get("names"), where),
        sql=sql,
        python=data.get("python"),
        timeout=timeout,
        source=source,
        ratios=_ratios(data.get("ratios"), f"{where}: ratios", gauges),
        reset_time=data.get("reset_time"),
    )


def load_file(path: Path, engine: str) -> MetricDef:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise DefinitionError(f"{path}: invalid YAML: {exc}") from None
    return parse_definition(path.stem, engine, data, source=path)


def load_dir(directory: Path, engine: str) -> dict[str, MetricDef]:
    defs: dict[str, MetricDef] = {}
    for path in sorted(directory.glob("*.yaml")):
        if path.name.startswith("_"):  # _presets.yaml and other non-metric files
            continue
        d = load_file(path, engine)
        defs[d.name] = d
    return defs


@cache
def definitions(engine: str) -> Mapping[str, MetricDef]:
    """All definitions shipped for ``engine`` (``collectors/metrics/<engine>/*.yaml``), cached."""
    directory = METRICS_ROOT / engine
    if not directory.is_dir():
        return {}
    return load_dir(directory, engine)


#: series every target gets from the collector itself, whatever its engine
SELF_METRICS = frozenset({"up", "headroom_scrape_success", "headroom_scrape_duration_seconds"})


def produced_metric_names(engines: Sequence[str] = ("postgres", "mysql", "pgbouncer")) -> set[str]:
    """Every metric name the shipped definitions produce, plus the collector's self-metrics."""
    from collectors.plans.job import PLAN_METRICS

    names = set(SELF_METRICS) | PLAN_METRICS
    for engine in engines:
        for d in definitions(engine).values():
            names |= d.produced_names()
    return names
