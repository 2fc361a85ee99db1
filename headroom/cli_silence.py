"""``headroom silence add|list|expire``: alert silences, kept with author and comment."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import click

from headroom.cli_support import EXIT_CONFIG, align, duration_option, fail, guarded, load
from headroom_core.redact import mask

if TYPE_CHECKING:
    from headroom.config import HeadroomConfig
    from store import Store

T = TypeVar("T")


@click.group()
def silence() -> None:
    """Create, list and expire alert silences (kept with author and comment as an audit trail)."""


def _open_store_for(cfg: HeadroomConfig) -> Store:
    from store.api import open_configured_store

    return open_configured_store(cfg)


def _silence_call(func: Callable[[], T]) -> T:
    from alerts.silences import SilenceError

    try:
        return func()
    except SilenceError as exc:
        fail(EXIT_CONFIG, f"headroom silence: {exc}")


@silence.command("add")
@click.option(
    "--matcher",
    "matchers",
    multiple=True,
    required=True,
    help='Label matcher, e.g. target="db1" or alertname=~"Pg.*" (repeatable; all must match).',
)
@click.option(
    "--duration", required=True, callback=duration_option, help="How long from now (or --start), e.g. 2h."
)
@click.option("--start", default=None, help="Start: epoch seconds or ISO-8601 (default now).")
@click.option("--author", required=True, help="Who is silencing.")
@click.option("--comment", required=True, help="Why (a ticket, an incident, a maintenance window).")
@guarded("silence add")
def silence_add(
    matchers: tuple[str, ...], duration: float, start: str | None, author: str, comment: str
) -> None:
    """Silence the alerts matching every --matcher."""
    import time

    from headroom.query import parse_time
    from store.format import fmt_duration, fmt_ts

    try:
        starts_at = parse_time(start) if start is not None else int(time.time())
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    from alerts.silences import create_silence

    cfg = load()
    store = _open_store_for(cfg)
    ends_at = starts_at + int(duration)
    silence_id = _silence_call(
        lambda: create_silence(store, list(matchers), starts_at, ends_at, author, comment)
    )
    click.echo(
        f"silence {silence_id} created: {fmt_ts(starts_at)} to {fmt_ts(ends_at)} "
        f"({fmt_duration(ends_at - starts_at)})"
    )


@silence.command("list")
@click.option("--all", "include_expired", is_flag=True, help="Include expired silences.")
@guarded("silence list")
def silence_list(include_expired: bool) -> None:
    """List silences, newest first."""
    from alerts.silences import list_silences
    from store.format import fmt_ts

    cfg = load()
    rows = list_silences(_open_store_for(cfg), include_expired=include_expired)
    table = [["ID", "STATE", "STARTS", "ENDS", "AUTHOR", "MATCHERS", "COMMENT"]]
    for row in rows:
        matchers = ",".join(f"{m['name']}{m['op']}{m['value']!r}" for m in row.matchers)
        table.append(
            [
                str(row.id),
                row.state,
                fmt_ts(row.starts_at),
                fmt_ts(row.ends_at),
                row.author,
                matchers,
                row.comment,
            ]
        )
    click.echo(mask(align(table)) if rows else "no silences")


@silence.command("expire")
@click.argument("silence_id", type=int)
@click.option("--author", required=True, help="Who is expiring it.")
@click.option("--comment", required=True, help="Why.")
@guarded("silence expire")
def silence_expire(silence_id: int, author: str, comment: str) -> None:
    """Expire a silence now."""
    from alerts.silences import expire_silence

    cfg = load()
    store = _open_store_for(cfg)
    _silence_call(lambda: expire_silence(store, silence_id, author, comment))
    click.echo(f"silence {silence_id} expired")
