"""Alert reads and silence writes for the Alerts page.

Silences and channel health belong to the ``alerts`` package (``alerts.silences``, ``alerts.health``);
they are imported lazily so the page degrades to a clear message when they are not installed.
Reads fall back to the store tables directly.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import Mapping
from typing import Any

import pandas as pd
from sqlalchemy import func, select

from headroom_core.redact import redact_shown


def _optional(module: str) -> Any:
    """A module of another package that may not be installed yet (ImportError when missing)."""
    return importlib.import_module(module)


def _row(obj: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, Mapping):
        return dict(obj)
    if hasattr(obj, "model_dump"):
        return dict(obj.model_dump())
    if hasattr(obj, "_mapping"):
        return dict(obj._mapping)
    return dict(vars(obj))


def list_silences(st: Any, now: int) -> tuple[pd.DataFrame, str | None]:
    """Active and recent silences; the second value says where they came from when degraded."""
    note = None
    try:
        mod = _optional("alerts.silences")
        rows = [_row(s) for s in mod.list_silences(st)]
    except (ImportError, AttributeError):
        note = "Silence management needs `alerts.silences`; showing the stored silences read-only."
        from store import schema

        s = schema.silences
        with st.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(select(s).order_by(s.c.created_at.desc()).limit(200))]
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=["id", "matchers", "starts_at", "ends_at", "author", "comment", "state"]), note
    if "matchers_json" in df.columns and "matchers" not in df.columns:
        df["matchers"] = df["matchers_json"].map(lambda j: json.loads(j or "{}"))
    df["matchers"] = df["matchers"].map(
        lambda m: ", ".join(f"{k}={v}" for k, v in m.items()) if isinstance(m, Mapping) else _matchers_text(m))
    if "state" in df.columns:
        return df[["id", "matchers", "starts_at", "ends_at", "author", "comment", "state"]], note
    expired = df["expired_at"] if "expired_at" in df.columns else pd.Series([None] * len(df))
    df["state"] = [
        "expired" if (e is not None and e == e) or end <= now else ("active" if start <= now else "pending")
        for e, start, end in zip(expired, df["starts_at"], df["ends_at"], strict=True)
    ]
    return df[["id", "matchers", "starts_at", "ends_at", "author", "comment", "state"]], note


def _matchers_text(m: Any) -> str:
    """``[{"name": "alertname", "op": "=~", "value": "MySQL.*"}]`` → ``alertname=~MySQL.*``."""
    out = []
    for item in m or []:
        if isinstance(item, Mapping):
            out.append(f"{item.get('name', item.get('label', '?'))}{item.get('op', '=')}{item.get('value', '')}")
        elif isinstance(item, list | tuple) and len(item) >= 2:
            out.append(f"{item[0]}{item[1] if len(item) > 2 else '='}{item[-1]}")
    return ", ".join(out)


def create_silence(st: Any, matchers: dict[str, str], starts_at: int, ends_at: int, author: str,
                   comment: str) -> Any:
    mod = _optional("alerts.silences")
    return mod.create_silence(st, matchers=matchers, starts_at=starts_at, ends_at=ends_at, author=author,
                              comment=comment)


def expire_silence(st: Any, silence_id: int, author: str, comment: str) -> Any:
    mod = _optional("alerts.silences")
    return mod.expire_silence(st, silence_id, author=author, comment=comment)


def silences_writable() -> bool:
    try:
        mod = _optional("alerts.silences")
    except ImportError:
        return False
    return hasattr(mod, "create_silence") and hasattr(mod, "expire_silence")


def channel_health(st: Any) -> tuple[pd.DataFrame, str | None]:
    """Delivery health per channel: last success, last error (redacted), backlog."""
    try:
        health = _optional("alerts.health").channel_health
        df = pd.DataFrame([_row(r) for r in health(st)])
        note = None
    except (ImportError, AttributeError):
        note = "Summary read from the outbox (module `alerts.health` not available)."
        from store import schema

        o = schema.outbox
        q = select(
            o.c.channel,
            func.max(o.c.sent_at).label("last_success"),
            func.sum((o.c.status == "pending").cast(_int())).label("pending"),
            func.sum((o.c.status == "failed").cast(_int())).label("failed"),
        ).group_by(o.c.channel)
        with st.engine.connect() as conn:
            df = pd.DataFrame([dict(r._mapping) for r in conn.execute(q)])
            if not df.empty:
                errs = {}
                for ch in df["channel"]:
                    e = conn.execute(select(o.c.last_error).where(o.c.channel == ch, o.c.last_error.is_not(None))
                                     .order_by(o.c.id.desc()).limit(1)).scalar()
                    errs[ch] = e
                df["last_error"] = df["channel"].map(errs)
    if "last_error" in df.columns:  # the text only: last_error_at is a time
        df["last_error"] = df["last_error"].map(redact_shown)
    return df, note


def _int() -> Any:
    from sqlalchemy import Integer

    return Integer()
