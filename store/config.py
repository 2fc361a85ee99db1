"""The ``store`` section of the configuration."""

from __future__ import annotations

from typing import Protocol

from pydantic import Field, field_validator

from headroom_core.configtypes import Duration, StrictModel

SERIES_REFRESH_S = 3600  # a writer re-reads (and marks as used) every series it keeps cached this often

DEFAULT_STORE_URL = "sqlite:///./headroom-data/metrics.db"


class RetentionConfig(StrictModel):
    raw: Duration = Field(default=7 * 86400, description="How long raw samples are kept.")
    rollup_5m: Duration = Field(default=90 * 86400, description="How long 5-minute rollups are kept.")
    rollup_1h: Duration = Field(default=2 * 365 * 86400, description="How long 1-hour rollups are kept.")
    statements: Duration = Field(
        default=30 * 86400, description="How long per-interval statement stats are kept."
    )
    statement_texts: Duration = Field(
        default=30 * 86400,
        description="Statement texts not seen among the top statements for this long are deleted, and so are "
        "captured plans not seen again for this long.",
    )
    activity: Duration = Field(
        default=8 * 86400,
        description="How long the 10-second activity buckets (DB load by wait class, query, user, database, "
        "client) are kept.",
    )
    activity_snapshots: Duration = Field(
        default=2 * 86400,
        description="How long the top-session snapshot of each 10-second bucket (sessions, queries, blocking "
        "trees) is kept: the bulk of the activity data (docs/benchmarks.md).",
    )
    activity_5m: Duration = Field(
        default=90 * 86400, description="How long the 5-minute activity rollup is kept."
    )
    events: Duration = Field(default=365 * 86400, description="How long events are kept.")
    alert_history: Duration = Field(default=365 * 86400, description="How long alert state changes are kept.")
    forecasts: Duration = Field(
        default=7 * 86400,
        description="How long superseded forecast runs are kept (each series' newest stays).",
    )
    forecasts_newest: Duration = Field(
        default=90 * 86400,
        description="How long the newest forecast of a series that is no longer refreshed (a dropped table, "
        "a removed target) is kept.",
    )
    outbox: Duration = Field(
        default=7 * 86400,
        description="How long sent and failed notifications are kept (pending ones always stay).",
    )
    series: Duration = Field(
        default=7 * 86400,
        description="A series with no sample or rollup left is deleted once no collector has used it for this "
        "long (at least 1d).",
    )

    @field_validator("series")
    @classmethod
    def _series_outlives_caches(cls, v: float) -> float:
        if v < 86400:
            raise ValueError("must be at least 1d (collectors keep series ids cached for up to an hour)")
        return v


class StoreConfig(StrictModel):
    url: str = Field(
        default=DEFAULT_STORE_URL,
        description="SQLAlchemy URL: sqlite:///path (embedded) or postgresql+psycopg://user@host/db. "
        "A password in the URL is treated as a secret; prefer password_file.",
    )
    password_file: str | None = Field(
        default=None, description="File holding the store password (PostgreSQL)."
    )
    retention: RetentionConfig = Field(default_factory=RetentionConfig)


class StoreSettings(Protocol):
    """What a stage's entry point reads of the whole configuration (``headroom.config.HeadroomConfig``,
    a higher layer) to open the store."""

    @property
    def store(self) -> StoreConfig: ...

    def store_url_revealed(self) -> str:
        """The store URL with its password (from ``store.password_file``): for opening the store only."""
        ...
