"""The ``store`` section of the configuration."""

from __future__ import annotations

from pydantic import Field

from store.configtypes import Duration, StrictModel

DEFAULT_STORE_URL = "sqlite:///./headroom-data/metrics.db"


class RetentionConfig(StrictModel):
    raw: Duration = Field(default=7 * 86400, description="How long raw samples are kept.")
    rollup_5m: Duration = Field(default=90 * 86400, description="How long 5-minute rollups are kept.")
    rollup_1h: Duration = Field(default=2 * 365 * 86400, description="How long 1-hour rollups are kept.")
    statements: Duration = Field(default=30 * 86400, description="How long per-interval statement stats are kept.")
    events: Duration = Field(default=365 * 86400, description="How long events and alert history are kept.")


class StoreConfig(StrictModel):
    url: str = Field(
        default=DEFAULT_STORE_URL,
        description="SQLAlchemy URL: sqlite:///path (embedded) or postgresql+psycopg://user@host/db. "
        "A password in the URL is treated as a secret; prefer password_file.",
    )
    password_file: str | None = Field(default=None, description="File holding the store password (PostgreSQL).")
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
