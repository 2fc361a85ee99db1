"""The ``targets``, ``collector`` and ``prometheus`` sections of the configuration.

A password written inline in a DSN or URL is taken out of it while the config is validated and kept
as a :class:`~headroom_core.configtypes.Secret`: the stored ``dsn`` never holds it, ``display_dsn()`` shows
``<secret>`` in its place and ``conninfo()`` puts it back for the one place that connects.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import unquote, urlsplit, urlunsplit

from pydantic import Field, field_validator, model_validator

from headroom_core.configtypes import (
    ByteSize,
    Duration,
    DurationOrZero,
    MetricsEndpointConfig,
    Secret,
    StrictModel,
)
from headroom_core.redact import dsn_with_password, is_url, redact_dsn, split_dsn_password

Engine = Literal["postgres", "mysql", "pgbouncer", "prometheus"]
Preset = Literal["minimal", "standard", "exhaustive"]

_URL_SCHEMES: dict[str, tuple[str, ...]] = {
    "postgres": ("postgresql", "postgres"),
    "pgbouncer": ("postgresql", "postgres"),
    "mysql": ("mysql", "mariadb"),
    "prometheus": ("http", "https"),
}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]*$")


def _move_inline_password(data: Any, field: str) -> Any:
    """Before validation: move a password written inside ``data[field]`` to ``data["password"]``."""
    if not isinstance(data, dict) or not isinstance(data.get(field), str):
        return data
    stripped, password = split_dsn_password(data[field])
    if password is None:
        return data
    if data.get("password") is not None or data.get("password_file") is not None:
        raise ValueError(
            f"{field} has an inline password and password/password_file is also set: keep only one"
        )
    return {**data, field: stripped, "password": Secret(password)}


class CapacityConfig(StrictModel):
    disk_bytes: ByteSize | None = Field(
        default=None,
        description="Size of the volume holding the data directory (e.g. 500GB, 512GiB); used by disk-full forecasts.",
    )
    max_qps: float | None = Field(
        default=None,
        ge=0,
        description="Queries per second the server is known to sustain; used by QPS forecasts.",
    )
    cpus: float | None = Field(
        default=None,
        gt=0,
        description="vCPUs of the server: the line DB load is compared with (Activity page, alerts).",
    )
    memory_bytes: ByteSize | None = Field(
        default=None,
        description="Memory of the server (e.g. 16GiB); the advisors compare shared_buffers with it.",
    )
    max_connections: int | None = Field(
        default=None,
        ge=1,
        description="Connection limit to plan against when it differs from the server's max_connections.",
    )
    storage: Literal["ssd", "hdd"] | None = Field(
        default=None,
        description="What the data volume is (ssd or hdd); the advisors compare random_page_cost with it.",
    )


class MetricOverride(StrictModel):
    interval: Duration | None = Field(
        default=None,
        description="Poll interval for this metric (e.g. 30s); empty keeps the preset's interval.",
    )
    enabled: bool = Field(default=True, description="false turns this metric off for this target.")


class TargetConfig(StrictModel):
    name: str = Field(
        description="Unique name of the target, shown everywhere and stored with every sample.",
        examples=["orders-primary"],
    )
    engine: Engine = Field(
        description="postgres | mysql (also MariaDB) | pgbouncer | prometheus.", examples=["postgres"]
    )
    dsn: str = Field(
        description="Connection string: postgresql://user@host:5432/db?sslmode=verify-full, "
        "mysql://user@host:3306/, or for engine prometheus the http(s) URL of the Prometheus server. "
        "A password written inline is treated as a secret; prefer password_file.",
        examples=["postgresql://headroom_monitor@localhost:5432/postgres"],
    )
    password: Secret | None = Field(
        default=None,
        description="Password for the DSN (a secret: never logged or shown). Prefer password_file.",
    )
    password_file: str | None = Field(
        default=None,
        description="File holding the password (trailing newline stripped); relative to the config file.",
    )
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="Labels for filtering and alert routing, e.g. {env: prod, team: payments}.",
    )
    capacity: CapacityConfig = Field(
        default_factory=CapacityConfig, description="Known limits used by forecasts."
    )
    preset: Preset = Field(
        default="standard", description="Metric set and intervals: minimal | standard | exhaustive."
    )
    metrics: dict[str, MetricOverride] = Field(
        default_factory=dict,
        description="Per-metric overrides keyed by metric definition name: {interval: 30s, enabled: true}.",
    )
    statement_timeout: Duration = Field(
        default=5.0, description="Longest a single metric query may run on the target."
    )
    connect_timeout: Duration = Field(default=10.0, description="Longest a connection attempt may take.")
    database_scope_limit: int = Field(
        default=50,
        ge=1,
        description="At most this many databases are visited by per-database metrics (the most "
        "active first); a database_limit event names the ones left out.",
    )

    @model_validator(mode="before")
    @classmethod
    def _inline_password(cls, data: Any) -> Any:
        return _move_inline_password(data, "dsn")

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError(
                f"invalid target name {value!r}: use letters, digits and . _ - : @ / (no spaces), "
                "starting with a letter or digit"
            )
        return value

    @model_validator(mode="after")
    def _dsn_matches_engine(self) -> TargetConfig:
        dsn = self.dsn.strip()
        if not dsn:
            raise ValueError("dsn: must not be empty")
        schemes = _URL_SCHEMES[self.engine]
        if is_url(dsn):
            scheme = urlsplit(dsn).scheme.split("+")[0].lower()
            if scheme not in schemes:
                allowed = ", ".join(f"{s}://" for s in schemes)
                raise ValueError(f"dsn: a {self.engine} target needs a URL starting with {allowed}")
        elif self.engine not in ("postgres", "pgbouncer"):
            raise ValueError(f"dsn: a {self.engine} target needs a URL starting with {schemes[0]}://")
        elif "=" not in dsn:
            raise ValueError(
                "dsn: expected a postgresql:// URL or libpq key=value pairs (host=... dbname=...)"
            )
        return self

    def conninfo(self) -> str:
        """The DSN with the password in it, for the collector's connection only. Never print this."""
        return dsn_with_password(self.dsn, self.password.reveal() if self.password is not None else None)

    def display_dsn(self) -> str:
        """The DSN for humans: ``<secret>`` where the password and any other secret parameter are."""
        if self.password is None:
            return redact_dsn(self.dsn)
        return redact_dsn(dsn_with_password(self.dsn, "x"))


class PlansConfig(StrictModel):
    enabled: bool = Field(
        default=True,
        description="Capture the plans of the top statements with EXPLAIN (never executed) and give index advice.",
    )
    top: int = Field(
        default=20,
        ge=1,
        le=500,
        description="Statements per target whose plans are captured (by total time).",
    )
    interval: Duration = Field(
        default=3600.0,
        description="At most one EXPLAIN per statement per interval (plus one when its mean time doubles).",
    )
    regression_ratio: float = Field(
        default=1.5,
        ge=1.0,
        description="A new plan whose mean time per call is this many times the old one's is a plan regression.",
    )
    min_table_rows: int = Field(
        default=10_000, ge=0, description="No index advice for tables with fewer rows."
    )


class CollectorConfig(MetricsEndpointConfig):
    spool_dir: str = Field(
        default="./headroom-data/spool",
        description="Directory where batches wait while the store is unreachable.",
    )
    spool_max_bytes: ByteSize = Field(
        default=256 * 1000**2,
        description="Largest size of the spool; the oldest batches are dropped (and counted) beyond it.",
    )
    spool_max_age: Duration = Field(
        default=86400.0, description="Spooled batches older than this are dropped (and counted)."
    )
    max_concurrency: int = Field(
        default=16, ge=1, description="Most targets polled at the same time by one collector process."
    )
    housekeeping_interval: Duration = Field(
        default=60.0, description="How often the collector runs store rollups and retention."
    )
    top_statements: int = Field(
        default=100,
        ge=1,
        description="Statements stored per target and interval (by time spent), plus one `(other)` row.",
    )
    query_text_max: ByteSize = Field(
        default=16 * 1024,
        ge=256,
        description="Statement texts longer than this are cut when read from the server, ending with a visible "
        "`…[truncated by headroom: N bytes]` marker.",
    )
    queue_max_items: int = Field(
        default=500_000,
        ge=1000,
        description="Most items waiting to be written; past it the oldest are dropped (counted, and a spool_drop event).",
    )
    memory_max_items: int = Field(
        default=500_000,
        ge=1000,
        description="Most items kept in memory while the spool cannot be written (disk full); past it the oldest "
        "are dropped (counted, and a spool_drop event saying what).",
    )
    advise_every: DurationOrZero = Field(
        default=21600.0,
        description="How often the collector runs the advisor checks (docs/advisors.md) of each PostgreSQL and "
        "MySQL target and records what appeared or went away; the first run comes 5 minutes after a target's "
        "runner starts. 0: only `headroom check --advise` runs them.",
    )
    plans: PlansConfig = Field(default_factory=PlansConfig, description="Plan capture and index advice.")


class PrometheusConfig(StrictModel):
    url: str = Field(
        description="Base URL of the Prometheus HTTP API, e.g. http://prometheus:9090.",
        examples=["http://localhost:9090"],
    )
    username: str | None = Field(default=None, description="User for HTTP basic authentication.")
    password: Secret | None = Field(default=None, description="Password for basic authentication (a secret).")
    password_file: str | None = Field(default=None, description="File holding the basic-auth password.")
    verify_tls: bool = Field(default=True, description="Verify the server's TLS certificate.")

    @model_validator(mode="before")
    @classmethod
    def _inline_password(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("url"), str):
            parts = urlsplit(data["url"])
            if parts.username and data.get("username") is None:
                data = {**data, "username": unquote(parts.username)}
        return _move_inline_password(data, "url")

    @model_validator(mode="after")
    def _valid(self) -> PrometheusConfig:
        if urlsplit(self.url).scheme not in ("http", "https"):
            raise ValueError("url: expected an http:// or https:// URL")
        return self

    def base_url(self) -> str:
        """The URL without user information (credentials go in ``auth()``)."""
        parts = urlsplit(self.url)
        hostport = parts.netloc.rpartition("@")[2]
        return urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))

    def auth(self) -> tuple[str, str] | None:
        """``(username, password)`` for HTTP basic auth, or ``None``."""
        if self.username is None:
            return None
        return self.username, self.password.reveal() if self.password is not None else ""
