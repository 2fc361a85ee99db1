"""What ``headroom silence add|list|expire`` run (the CLI imports these lazily from alerts.silences)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import click

from alerts.silences import SilenceError, create_silence, expire_silence, list_silences


def open_configured_store(cfg: Any) -> Any:
    from store import open_store

    url = cfg.store_url_revealed() if hasattr(cfg, "store_url_revealed") else cfg.store.url
    return open_store(url, cfg.store.retention)


def _when(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def cli_add(cfg: Any, matchers: list[str], duration: float, author: str, comment: str) -> int:
    now = int(time.time())
    try:
        sid = create_silence(open_configured_store(cfg), matchers, now, now + int(duration), author, comment)
    except SilenceError as exc:
        click.echo(f"headroom silence add: {exc}", err=True)
        return 2
    click.echo(f"silence {sid} created: {' '.join(matchers)} until {_when(now + int(duration))}")
    return 0


def cli_list(cfg: Any, include_expired: bool = False) -> int:
    rows = list_silences(open_configured_store(cfg), include_expired=include_expired)
    if not rows:
        click.echo("no silences" if include_expired else "no active or pending silences")
        return 0
    for s in rows:
        matchers = " ".join(f'{m["name"]}{m["op"]}"{m["value"]}"' for m in s.matchers)
        click.echo(f"{s.id}\t{s.state}\t{_when(s.starts_at)} → {_when(s.ends_at)}\t{matchers}\t"
                   f"by {s.author}: {s.comment}")
    return 0


def cli_expire(cfg: Any, silence_id: str | int, author: str, comment: str = "expired with headroom silence expire") -> int:
    try:
        expire_silence(open_configured_store(cfg), int(silence_id), author, comment)
    except (SilenceError, ValueError) as exc:
        click.echo(f"headroom silence expire: {exc}", err=True)
        return 2
    click.echo(f"silence {silence_id} expired")
    return 0
