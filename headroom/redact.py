"""Keeping secrets out of everything Headroom prints.

Every secret value the configuration holds is registered here when the config loads
(:func:`register_secret`); :func:`mask` replaces each registered value (and its URL-encoded
form) by ``<secret>`` in any text. The logging setup and the CLI's error output pass everything
through :func:`mask`.

A weak secret (shorter than 6 characters, or a single word or number: :func:`is_weak`) is masked only
where a secret can appear: the password of a URL (``://user:SECRET@``) and the value of a
password-like setting (``password=SECRET``, ``"sslpassword": "SECRET"``, ``PGPASSWORD=SECRET``).
Masking it everywhere would garble ordinary output (the password ``check`` would turn ``headroom
check`` into ``headroom <secret>``); ``headroom check`` warns about such secrets instead.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import quote, quote_plus, urlsplit

from collectors.config import dsn_secret_parameters, redact_dsn, split_dsn_password
from store.configtypes import SECRET_MASK

__all__ = ["SECRET_MASK", "clear_secrets", "is_weak", "mask", "redact_dsn", "register_secret", "register_secret_url",
           "registered_secrets"]

_lock = threading.Lock()
_secrets: set[str] = set()
_ordered: list[str] = []  # longest first, so a secret containing another is masked whole
_weak: dict[str, re.Pattern[str]] = {}  # weak secret form → the pattern of the places it may appear
_MIN_PART = 12  # shorter URL path parts are not registered on their own (they may be ordinary words)
_MIN_STRONG = 6
_ONE_WORD = re.compile(r"^(?:[^\W\d_]+|\d+)$")  # letters only, or digits only
_ONE_WORD_MAX = 12
_SECRET_KEY = r"(?:[A-Za-z_]*(?:pass(?:word|wd|phrase)?|pwd|secret|token|api_?key))"


def is_weak(value: str) -> bool:
    """Too short, or one word or number that ordinary text may contain: masking it everywhere would
    garble output, and it is easy to guess."""
    return len(value) < _MIN_STRONG or (len(value) < _ONE_WORD_MAX and bool(_ONE_WORD.match(value)))


def _where_secrets_appear(form: str) -> re.Pattern[str]:
    """``form`` as a URL's password or as the value of a password-like key (not inside other words)."""
    value = re.escape(form)
    return re.compile(
        rf"(?<=://)([^\s/@:]*:){value}(?=@)"  # scheme://user:SECRET@host
        rf"|(?i:(\b{_SECRET_KEY}['\"]?\s*[=:]\s*['\"]?)){value}(?![\w-])"  # password=SECRET, "password": "SECRET"
    )


def register_secret(value: str | None) -> None:
    """Remember ``value`` (and its URL-encoded forms) so that :func:`mask` hides it."""
    if not value:
        return
    forms = {value, quote(value, safe=""), quote_plus(value, safe="")}
    with _lock:
        new = forms - _secrets - set(_weak)
        if not new:
            return
        if is_weak(value):
            for form in new:
                _weak[form] = _where_secrets_appear(form)
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
    """Register the inline password of a DSN or URL and every other password-like parameter of it."""
    if dsn:
        register_secret(split_dsn_password(dsn)[1])
        for value in dsn_secret_parameters(dsn):
            register_secret(value)


def registered_secrets() -> list[str]:
    with _lock:
        return list(_ordered) + sorted(_weak)


def clear_secrets() -> None:
    """Forget every registered secret (tests)."""
    with _lock:
        _secrets.clear()
        _ordered.clear()
        _weak.clear()


def mask(text: str) -> str:
    """``text`` with every registered secret replaced by ``<secret>`` (weak ones where a secret can appear)."""
    if not text or not (_ordered or _weak):
        return text
    for secret in list(_ordered):
        if secret in text:
            text = text.replace(secret, SECRET_MASK)
    for form, pattern in list(_weak.items()):
        if form in text:
            text = pattern.sub(lambda m: (m.group(1) or m.group(2) or "") + SECRET_MASK, text)
    return text
