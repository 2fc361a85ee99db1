"""HTTP delivery shared by the channels: URL checks, one deadline per request, status classification,
secret-free errors."""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from alerts.channels.netguard import GuardedClient, UnsafeURLError, checked, request_policy, resolve
from headroom_core.redact import redact_text

log = logging.getLogger("alerts.channels")


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: str  # ok | retry | permanent
    status: int | None = None
    retry_after: float | None = None
    error: str | None = None


class RedactingFilter(logging.Filter):
    """Log filter for httpx/httpcore: their INFO lines carry full request URLs."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        record.msg = redact_text(message, ())
        record.args = None
        return True


_FILTER = RedactingFilter()


def install_log_redaction() -> None:
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def check_url(url: str, allow_private: bool, resolve_host: bool = True) -> tuple[str, int]:
    """Refuse non-http(s) URLs and, unless allowed (or not asked to resolve), hosts resolving to an
    address that is not global. Returns the host and port."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeURLError("URL scheme must be http or https")
    host = parts.hostname
    if not host:
        raise UnsafeURLError("URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeURLError("URL has an invalid port") from exc
    if resolve_host and not allow_private:
        checked(resolve(host, port), allow_private)
    return host, port


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
    client: GuardedClient,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
    secrets: Iterable[str],
    allow_private: bool,
) -> SendResult:
    """POST `body` within ONE deadline of `timeout` seconds; never raises; the error text never contains
    the URL or a secret. The host is resolved once, at connect time, and every address checked
    (:mod:`alerts.channels.netguard`); at most :data:`ANSWER_LIMIT` bytes of the answer are read."""
    if not isinstance(client, GuardedClient):
        raise TypeError("channels send only through alerts.channels.netguard.GuardedClient")
    secrets = [url, *secrets]
    try:
        check_url(url, allow_private, resolve_host=False)  # the address is checked when connecting
    except UnsafeURLError as exc:
        return SendResult("permanent", error=f"refused: {exc}")
    try:
        with request_policy(allow_private, timeout):
            with client.stream(
                "POST", url, content=body, headers={**headers, "Accept-Encoding": "identity"}, timeout=timeout
            ) as response:
                answer = _read_answer(response)
    except UnsafeURLError as exc:
        return SendResult("permanent", error=f"refused: {exc}")
    except httpx.TimeoutException as exc:
        return SendResult("retry", error=f"timeout after {timeout:g}s ({type(exc).__name__})")
    except httpx.HTTPError as exc:
        return SendResult("retry", error=redact_text(f"{type(exc).__name__}: {exc}", secrets))
    except OSError as exc:
        return SendResult("retry", error=redact_text(f"{type(exc).__name__}: {exc}", secrets))
    outcome = classify(response.status_code)
    if outcome == "ok":
        return SendResult("ok", status=response.status_code)
    text = redact_text(answer.decode("utf-8", errors="replace")[:300].strip(), secrets)
    return SendResult(
        outcome,
        status=response.status_code,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
        error=f"HTTP {response.status_code}" + (f": {text}" if text else ""),
    )


ANSWER_LIMIT = 8192  # bytes of a receiver's answer read (only its first 300 characters are ever shown)


def _read_answer(response: httpx.Response) -> bytes:
    data = bytearray()
    for chunk in response.iter_raw():
        data += chunk
        if len(data) >= ANSWER_LIMIT:
            break
    return bytes(data[:ANSWER_LIMIT])
