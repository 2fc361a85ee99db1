"""Delivery health per channel, for the Alerts page and ``headroom check``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select

from headroom_core.redact import redact_text
from store import schema
from store.api import Store


@dataclass(frozen=True, slots=True)
class ChannelHealth:
    channel: str
    last_success: float | None  # epoch seconds of the last accepted notification
    last_error: str | None  # the newest error of a pending or failed row (never a URL or key)
    pending: int  # waiting or being retried
    failed: int  # given up: permanent 4xx, or retried longer than retry_for
    last_error_at: int | None = None  # created_at of the row carrying last_error


def channel_health(st: Store) -> list[ChannelHealth]:
    o = schema.outbox
    with st.engine.connect() as conn:
        summary = conn.execute(
            select(
                o.c.channel,
                func.max(o.c.sent_at),
                func.sum(case((o.c.status == "pending", 1), else_=0)),
                func.sum(case((o.c.status == "failed", 1), else_=0)),
            )
            .group_by(o.c.channel)
            .order_by(o.c.channel)
        ).all()
        result = []
        for channel, last_success, pending, failed in summary:
            err = conn.execute(
                select(o.c.last_error, o.c.created_at)
                .where(o.c.channel == channel, o.c.last_error.is_not(None), o.c.status != "sent")
                .order_by(o.c.id.desc())
                .limit(1)
            ).first()
            result.append(
                ChannelHealth(
                    channel=channel,
                    last_success=float(last_success) if last_success is not None else None,
                    last_error=redact_text(err[0], ()) if err else None,
                    pending=int(pending or 0),
                    failed=int(failed or 0),
                    last_error_at=int(err[1]) if err else None,
                )
            )
    return result


def check_problems(st: Store) -> list[str]:
    """Lines for ``headroom check``: channels with permanently failed or long-pending notifications."""
    problems = []
    for h in channel_health(st):
        if h.failed:
            problems.append(
                f"alerts channel {h.channel}: {h.failed} notification(s) failed permanently: {h.last_error}"
            )
        elif h.pending and h.last_error:
            problems.append(
                f"alerts channel {h.channel}: {h.pending} notification(s) being retried: {h.last_error}"
            )
    return problems
