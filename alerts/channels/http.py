"""HTTP delivery shared by the channels: SSRF check, status classification, secret-free errors."""

from __future__ import annotations

import email.utils
import ipaddress
import logging
import re
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

log = logging.getLogger("alerts.channels")

_URL_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: str  # ok | retry | permanent
    status: int | None = None
    retry_after: float | None = None
    error: str | None = None


class UnsafeURLError(ValueError):
    """A channel URL points where Headroom must not send (scheme or address); the message has no URL."""


def redact(text: str, secrets: Iterable[str]) -> str:
    """Remove every secret (and any URL at all) from `text`."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "<secret>")
        parts = urlsplit(secret)
        if parts.scheme and parts.path not in ("", "/"):
            text = text.replace(parts.path, "<secret>")
    return _URL_RE.sub("<url>", text)


class RedactingFilter(logging.Filter):
    """Log filter for httpx/httpcore: their INFO lines carry full request URLs."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        record.msg = redact(message, ())
        record.args = None
        return True


_FILTER = RedactingFilter()


def install_log_redaction() -> None:
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def check_url(url: str, allow_private: bool) -> None:
    """Refuse non-http(s) URLs and, unless allowed, hosts resolving to loopback/private/link-local addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeURLError("URL scheme must be http or https")
    host = parts.hostname
    if not host:
        raise UnsafeURLError("URL has no host")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeURLError(f"host does not resolve ({exc.strerror or exc})") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        for kind in ("loopback", "link_local", "private", "unspecified", "multicast", "reserved"):
            if getattr(address, f"is_{kind}"):
                raise UnsafeURLError(
                    f"host resolves to a {kind.replace('_', '-')} address ({address}); "
                    "set allow_private_hosts: true on the channel to allow it"
                )


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


RETRYABLE_4XX = frozenset({408, 425, 429})


def classify(status: int) -> str:
    """ok for 2xx; retry for 5xx, 408, 425 and 429; permanent for everything else (1xx, 3xx, other 4xx)."""
    if 200 <= status < 300:
        return "ok"
    if status >= 500 or status in RETRYABLE_4XX:
        return "retry"
    return "permanent"


def post(
    client: httpx.Client,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
    secrets: Iterable[str],
    allow_private: bool,
) -> SendResult:
    """POST `body`; never raises; the error text never contains the URL or a secret."""
    secrets = [url, *secrets]
    try:
        check_url(url, allow_private)
    except UnsafeURLError as exc:
        return SendResult("permanent", error=f"refused: {exc}")
    try:
        response = client.post(url, content=body, headers=dict(headers), timeout=timeout)
    except httpx.TimeoutException as exc:
        return SendResult("retry", error=f"timeout after {timeout:g}s ({type(exc).__name__})")
    except httpx.HTTPError as exc:
        return SendResult("retry", error=redact(f"{type(exc).__name__}: {exc}", secrets))
    except OSError as exc:
        return SendResult("retry", error=redact(f"{type(exc).__name__}: {exc}", secrets))
    outcome = classify(response.status_code)
    if outcome == "ok":
        return SendResult("ok", status=response.status_code)
    text = redact(response.text[:300].strip(), secrets)
    return SendResult(
        outcome,
        status=response.status_code,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
        error=f"HTTP {response.status_code}" + (f": {text}" if text else ""),
    )
