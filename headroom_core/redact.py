"""Keeping secrets out of everything Headroom prints: the one set of redaction helpers.

- DSNs and URLs: :func:`split_dsn_password`, :func:`dsn_with_password`, :func:`dsn_secret_parameters` and
  :func:`redact_dsn` (a DSN or store URL as it may be shown).
- Registered secrets: :func:`register_secret` and :func:`mask` (below).
- Text from elsewhere (HTTP errors, stored error texts): :func:`redact_text` removes given secrets and every
  URL; :func:`redact_shown` also hides long token-like strings.

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
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlencode, urlsplit, urlunsplit

from headroom_core.configtypes import SECRET_MASK

# libpq keyword/value form: ``password = value`` or ``password='quoted \' value'``
_KV_PASSWORD_RE = re.compile(r"(?:^|(?<=\s))password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")
_KV_PARAM_RE = re.compile(r"(?:^|(?<=\s))([A-Za-z_][A-Za-z0-9_.-]*)(\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)")


def is_url(dsn: str) -> bool:
    return "://" in dsn


def _kv_unquote(raw: str) -> str:
    if raw.startswith("'") and raw.endswith("'") and len(raw) >= 2:
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    return raw


def _kv_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def split_dsn_password(dsn: str) -> tuple[str, str | None]:
    """Take an inline password out of a DSN (URL form or libpq ``key=value`` form).

    Returns the DSN without the password and the password (``None`` when there was none).
    """
    if is_url(dsn):
        parts = urlsplit(dsn)
        password: str | None = None
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            if ":" in userinfo:
                user, _, raw = userinfo.partition(":")
                password = unquote(raw)
                netloc = f"{user}@{hostport}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            kept = [(k, v) for k, v in pairs if k != "password"]
            if len(kept) != len(pairs):
                if password is None:
                    password = next(v for k, v in pairs if k == "password")
                query = urlencode(kept)
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)), password
    match = _KV_PASSWORD_RE.search(dsn)
    if not match:
        return dsn, None
    stripped = (dsn[: match.start()] + dsn[match.end() :]).strip()
    return re.sub(r"\s{2,}", " ", stripped), _kv_unquote(match.group(1))


def dsn_with_password(dsn: str, password: str | None) -> str:
    """Put ``password`` into a DSN that has none (URL userinfo, or a ``password=`` keyword)."""
    if password is None:
        return dsn
    return _put_password(dsn, quote(password, safe=""), _kv_quote(password))


def _put_password(dsn: str, in_url: str, in_keywords: str) -> str:
    """``dsn`` (without a password) with ``in_url`` as the URL's password, or ``password=in_keywords``."""
    if is_url(dsn):
        parts = urlsplit(dsn)
        userinfo, at, hostport = parts.netloc.rpartition("@")
        if not at:
            userinfo, hostport = "", parts.netloc
        netloc = f"{userinfo}:{in_url}@{hostport}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return f"{dsn} password={in_keywords}".strip()


def is_secret_parameter(name: str) -> bool:
    """Whether a DSN/URL parameter holds a secret: ``password``, ``sslpassword``, ``passwd``, ``pwd``,
    ``*_token``, ``*secret*``, ``api_key``… (never a ``*file`` parameter, which names a path)."""
    key = name.lower().replace("-", "_")
    if key.endswith("file"):
        return False
    return (
        any(word in key for word in ("password", "passwd", "passphrase", "secret", "token"))
        or key in ("pwd", "pass", "apikey", "api_key")
        or (key.endswith("_key") and "api" in key)
    )


def dsn_secret_parameters(dsn: str) -> list[str]:
    """Values of every secret-like parameter of a DSN (URL query or libpq ``key=value``), the inline
    password excepted (:func:`split_dsn_password` takes that one out)."""
    if is_url(dsn):
        pairs = parse_qsl(urlsplit(dsn).query, keep_blank_values=True)
        return [v for k, v in pairs if k != "password" and is_secret_parameter(k) and v]
    return [
        _kv_unquote(m.group(3))
        for m in _KV_PARAM_RE.finditer(dsn)
        if m.group(1) != "password" and is_secret_parameter(m.group(1))
    ]


def _mask_parameters(dsn: str) -> str:
    if is_url(dsn):
        parts = urlsplit(dsn)
        if not parts.query:
            return dsn
        pieces = []
        for piece in parts.query.split("&"):
            key, eq, _value = piece.partition("=")
            pieces.append(f"{key}={SECRET_MASK}" if eq and is_secret_parameter(unquote(key)) else piece)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(pieces), parts.fragment))
    return _KV_PARAM_RE.sub(
        lambda m: f"{m.group(1)}{m.group(2)}{SECRET_MASK}" if is_secret_parameter(m.group(1)) else m.group(0),
        dsn,
    )


def redact_dsn(dsn: str) -> str:
    """The DSN with the inline password and every other secret-like parameter (``sslpassword``…)
    replaced by ``<secret>``."""
    stripped, password = split_dsn_password(dsn)
    if password is None:
        return _mask_parameters(dsn)
    return _put_password(_mask_parameters(stripped), SECRET_MASK, SECRET_MASK)


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


_URL_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
_TOKENISH_RE = re.compile(r"\b[A-Za-z0-9_\-]{32,}\b")


def redact_text(text: str, secrets: Iterable[str], url_mask: str = "<url>") -> str:
    """``text`` without any of ``secrets`` (nor the path of a secret URL), every URL replaced by ``url_mask``."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, SECRET_MASK)
        parts = urlsplit(secret)
        if parts.scheme and parts.path not in ("", "/"):
            text = text.replace(parts.path, SECRET_MASK)
    return _URL_RE.sub(url_mask, text)


def redact_shown(text: object) -> str:
    """Error text as it may be shown: URLs and long token-like strings replaced by ``<secret>``."""
    if text is None:
        return ""
    return _TOKENISH_RE.sub(SECRET_MASK, redact_text(str(text), (), url_mask=SECRET_MASK))
