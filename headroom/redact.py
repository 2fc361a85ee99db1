"""Keeping secrets out of everything Headroom prints.

Every secret value the configuration holds is registered here when the config loads
(:func:`register_secret`); :func:`mask` replaces each registered value (and its URL-encoded
form) by ``<secret>`` in any text. The logging setup and the CLI's error output pass everything
through :func:`mask`.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import quote, quote_plus, urlsplit

from collectors.config import redact_dsn, split_dsn_password
from store.configtypes import SECRET_MASK

__all__ = ["SECRET_MASK", "clear_secrets", "mask", "redact_dsn", "register_secret", "register_secret_url",
           "registered_secrets"]

_lock = threading.Lock()
_secrets: set[str] = set()
_ordered: list[str] = []  # longest first, so a secret containing another is masked whole
_MIN_PART = 12  # shorter URL path parts are not registered on their own (they may be ordinary words)


def register_secret(value: str | None) -> None:
    """Remember ``value`` (and its URL-encoded forms) so that :func:`mask` hides it."""
    if not value:
        return
    forms = {value, quote(value, safe=""), quote_plus(value, safe="")}
    with _lock:
        new = forms - _secrets
        if not new:
            return
        _secrets.update(new)
        _ordered[:] = sorted(_secrets, key=len, reverse=True)


def register_secret_url(value: str | None) -> None:
    """Register a secret that may be a URL (webhook): the whole value, its path, and its long path parts.

    A webhook URL's secret is its path (Slack's ``/services/T…/B…/XXXX``); errors from HTTP clients
    often show only the path or its last part, so those are masked too.
    """
    if not value:
        return
    register_secret(value)
    if "://" not in value:
        return
    register_dsn(value)
    parts = urlsplit(value)
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    if len(tail) >= _MIN_PART:
        register_secret(tail)
    for piece in re.split(r"[/?&=]", tail):
        if len(piece) >= _MIN_PART:
            register_secret(piece)


def register_dsn(dsn: str | None) -> None:
    """Register the inline password of a DSN or URL, if it has one."""
    if dsn:
        register_secret(split_dsn_password(dsn)[1])


def registered_secrets() -> list[str]:
    with _lock:
        return list(_ordered)


def clear_secrets() -> None:
    """Forget every registered secret (tests)."""
    with _lock:
        _secrets.clear()
        _ordered.clear()


def mask(text: str) -> str:
    """``text`` with every registered secret replaced by ``<secret>``."""
    if not _ordered or not text:
        return text
    for secret in list(_ordered):
        if secret in text:
            text = text.replace(secret, SECRET_MASK)
    return text
