"""The ``targets``, ``collector`` and ``prometheus`` sections of the configuration.

A password written inline in a DSN or URL is taken out of it while the config is validated and kept
as a :class:`~store.configtypes.Secret`: the stored ``dsn`` never holds it, ``display_dsn()`` shows
``<secret>`` in its place and ``conninfo()`` puts it back for the one place that connects.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from pydantic import Field, field_validator, model_validator

from store.configtypes import SECRET_MASK, ByteSize, Duration, MetricsEndpointConfig, Secret, StrictModel

Engine = Literal["postgres", "mysql", "pgbouncer", "prometheus"]
Preset = Literal["minimal", "standard", "exhaustive"]

_URL_SCHEMES: dict[str, tuple[str, ...]] = {
    "postgres": ("postgresql", "postgres"),
    "pgbouncer": ("postgresql", "postgres"),
    "mysql": ("mysql", "mariadb"),
    "prometheus": ("http", "https"),
}
# libpq keyword/value form: ``password = value`` or ``password='quoted \' value'``
_KV_PASSWORD_RE = re.compile(r"(?:^|(?<=\s))password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")
_KV_PARAM_RE = re.compile(r"(?:^|(?<=\s))([A-Za-z_][A-Za-z0-9_.-]*)(\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]*$")


def _is_url(dsn: str) -> bool:
    return "://" in dsn


def _kv_unquote(raw: str) -> str:
    if raw.startswith("'") and raw.endswith("'") and len(raw) >= 2:
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    return raw


def _kv_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def split_dsn_password(dsn: str) -> tuple[str, str | None]:
    """Take an inline password out of a DSN (URL form or libpq ``key=value`` form).

    Returns the DSN without the password and the password (``None`` when there was none).
    """
    if _is_url(dsn):
        parts = urlsplit(dsn)
        password: str | None = None
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            if ":" in userinfo:
                user, _, raw = userinfo.partition(":")
                password = unquote(raw)
                netloc = f"{user}@{hostport}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            kept = [(k, v) for k, v in pairs if k != "password"]
            if len(kept) != len(pairs):
                if password is None:
                    password = next(v for k, v in pairs if k == "password")
                query = urlencode(kept)
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)), password
    match = _KV_PASSWORD_RE.search(dsn)
    if not match:
        return dsn, None
    stripped = (dsn[: match.start()] + dsn[match.end() :]).strip()
    return re.sub(r"\s{2,}", " ", stripped), _kv_unquote(match.group(1))


def dsn_with_password(dsn: str, password: str | None) -> str:
    """Put ``password`` into a DSN that has none (URL userinfo, or a ``password=`` keyword)."""
    if password is None:
        return dsn
    if _is_url(dsn):
        parts = urlsplit(dsn)
        userinfo, at, hostport = parts.netloc.rpartition("@")
        if not at:
            userinfo, hostport = "", parts.netloc
        netloc = f"{userinfo}:{quote(password, safe='')}@{hostport}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return f"{dsn} password={_kv_quote(password)}".strip()


def is_secret_parameter(name: str) -> bool:
    """Whether a DSN/URL parameter holds a secret: ``password``, ``sslpassword``, ``passwd``, ``pwd``,
    ``*_token``, ``*secret*``, ``api_key``… (never a ``*file`` parameter, which names a path)."""
    key = name.lower().replace("-", "_")
    if key.endswith("file"):
        return False
    return (any(word in key for word in ("password", "passwd", "passphrase", "secret", "token"))
            or key in ("pwd", "pass", "apikey", "api_key") or (key.endswith("_key") and "api" in key))


def dsn_secret_parameters(dsn: str) -> list[str]:
    """Values of every secret-like parameter of a DSN (URL query or libpq ``key=value``), the inline
    password excepted (:func:`split_dsn_password` takes that one out)."""
    if _is_url(dsn):
        pairs = parse_qsl(urlsplit(dsn).query, keep_blank_values=True)
        return [v for k, v in pairs if k != "password" and is_secret_parameter(k) and v]
    return [_kv_unquote(m.group(3)) for m in _KV_PARAM_RE.finditer(dsn)
            if m.group(1) != "password" and is_secret_parameter(m.group(1))]


def _mask_parameters(dsn: str) -> str:
    if _is_url(dsn):
        parts = urlsplit(dsn)
        if not parts.query:
            return dsn
        pieces = []
        for piece in parts.query.split("&"):
            key, eq, _value = piece.partition("=")
            pieces.append(f"{key}={SECRET_MASK}" if eq and is_secret_parameter(unquote(key)) else piece)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(pieces), parts.fragment))
    return _KV_PARAM_RE.sub(
        lambda m: f"{m.group(1)}{m.group(2)}{SECRET_MASK}" if is_secret_parameter(m.group(1)) else m.group(0), dsn)


def redact_dsn(dsn: str) -> str:
    """The DSN with the inline password and every other secret-like parameter (``sslpassword``…)
    replaced by ``<secret>``."""
    stripped, password = split_dsn_password(dsn)
    if password is None:
        return _mask_parameters(dsn)
    stripped = _mask_parameters(stripped)
    if _is_url(stripped):
        parts = urlsplit(stripped)
        userinfo, at, hostport = parts.netloc.rpartition("@")
        if not at:
            userinfo, hostport = "", parts.netloc
        netloc = f"{userinfo}:{SECRET_MASK}@{hostport}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return f"{stripped} password={SECRET_MASK}".strip()


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
        default=None, ge=0, description="Queries per second the server is known to sustain; used by QPS forecasts."
    )
    cpus: float | None = Field(
        default=None, gt=0, description="vCPUs of the server: the line DB load is compared with (Activity page, alerts).",
    )
    max_connections: int | None = Field(
        default=None,
        ge=1,
        description="Connection limit to plan against when it differs from the server's max_connections.",
    )


class MetricOverride(StrictModel):
    interval: Duration | None = Field(
        default=None, description="Poll interval for this metric (e.g. 30s); empty keeps the preset's interval."
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
        default=None, description="Password for the DSN (a secret: never logged or shown). Prefer password_file."
    )
    password_file: str | None = Field(
        default=None,
        description="File holding the password (trailing newline stripped); relative to the config file.",
    )
    labels: dict[str, str] = Field(
        default_factory=dict, description="Labels for filtering and alert routing, e.g. {env: prod, team: payments}."
    )
    capacity: CapacityConfig = Field(default_factory=CapacityConfig, description="Known limits used by forecasts.")
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
        default=50, ge=1, description="At most this many databases are visited by per-database metrics (the most "
        "active first); a database_limit event names the ones left out."
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
        if _is_url(dsn):
            scheme = urlsplit(dsn).scheme.split("+")[0].lower()
            if scheme not in schemes:
                allowed = ", ".join(f"{s}://" for s in schemes)
                raise ValueError(f"dsn: a {self.engine} target needs a URL starting with {allowed}")
        elif self.engine not in ("postgres", "pgbouncer"):
            raise ValueError(f"dsn: a {self.engine} target needs a URL starting with {schemes[0]}://")
        elif "=" not in dsn:
            raise ValueError("dsn: expected a postgresql:// URL or libpq key=value pairs (host=... dbname=...)")
        return self

    def conninfo(self) -> str:
        """The DSN with the password in it, for the collector's connection only. Never print this."""
        return dsn_with_password(self.dsn, self.password.reveal() if self.password is not None else None)

    def display_dsn(self) -> str:
        """The DSN for humans: ``<secret>`` where the password and any other secret parameter are."""
        if self.password is None:
            return redact_dsn(self.dsn)
        return redact_dsn(dsn_with_password(self.dsn, "x"))


class CollectorConfig(MetricsEndpointConfig):
    spool_dir: str = Field(
        default="./headroom-data/spool",
        description="Directory where batches wait while the store is unreachable.",
    )
    spool_max_bytes: ByteSize = Field(
        default=256 * 1000**2, description="Largest size of the spool; the oldest batches are dropped (and counted) beyond it."
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
        default=100, ge=1, description="Statements stored per target and interval (by time spent), plus one `(other)` row."
    )
    query_text_max: ByteSize = Field(
        default=16 * 1024, ge=256,
        description="Statement texts longer than this are cut when read from the server, ending with a visible "
        "`…[truncated by headroom: N bytes]` marker.",
    )
    queue_max_items: int = Field(
        default=500_000, ge=1000,
        description="Most items waiting to be written; past it the oldest are dropped (counted, and a spool_drop event).",
    )
    memory_max_items: int = Field(
        default=500_000, ge=1000,
        description="Most items kept in memory while the spool cannot be written (disk full); past it the oldest "
        "are dropped (counted, and a spool_drop event saying what).",
    )


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
