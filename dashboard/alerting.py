"""Alert reads and silence writes for the Alerts page, through the ``alerts`` package
(``alerts.silences``, ``alerts.health``), shaped as DataFrames."""

from __future__ import annotations

import dataclasses

import pandas as pd

from alerts import health, silences
from headroom_core.redact import redact_shown
from store import Store

SILENCE_COLUMNS = ["id", "matchers", "starts_at", "ends_at", "author", "comment", "state"]


def list_silences(st: Store) -> pd.DataFrame:
    """Every silence, newest first, with its matchers as ``name=value`` text."""
    rows = [dataclasses.asdict(s) for s in silences.list_silences(st)]
    if not rows:
        return pd.DataFrame(columns=SILENCE_COLUMNS)
    df = pd.DataFrame(rows)
    df["matchers"] = df["matchers"].map(_matchers_text)
    return df[SILENCE_COLUMNS]


def _matchers_text(matchers: list[dict[str, str]]) -> str:
    """``[{"name": "alertname", "op": "=~", "value": "MySQL.*"}]`` → ``alertname=~MySQL.*``."""
    return ", ".join(f"{m['name']}{m['op']}{m['value']}" for m in matchers)


def create_silence(
    st: Store, matchers: dict[str, str], starts_at: int, ends_at: int, author: str, comment: str
) -> int:
    return silences.create_silence(
        st, matchers=matchers, starts_at=starts_at, ends_at=ends_at, author=author, comment=comment
    )


def expire_silence(st: Store, silence_id: int, author: str, comment: str) -> None:
    silences.expire_silence(st, silence_id, author=author, comment=comment)


def channel_health(st: Store) -> pd.DataFrame:
    """Delivery health per channel: last success, last error (redacted), backlog."""
    df = pd.DataFrame([dataclasses.asdict(r) for r in health.channel_health(st)])
    if "last_error" in df.columns:  # the text only: last_error_at is a time
        df["last_error"] = df["last_error"].map(redact_shown)
    return df
