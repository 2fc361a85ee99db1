"""The metrics store: schema, migrations, write and read API, rollups and retention."""

from store.api import Store, open_store
from store.statement_store import StatementTotal
from store.types import Event, LatestValue, Sample, SeriesData, SeriesPoints, StatementStat, TargetRow

__all__ = [
    "Event",
    "LatestValue",
    "Sample",
    "SeriesData",
    "SeriesPoints",
    "StatementStat",
    "StatementTotal",
    "Store",
    "TargetRow",
    "open_store",
]
