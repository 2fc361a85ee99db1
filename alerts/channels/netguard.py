"""Where a channel may connect, and for how long.

- Every address the URL's host resolves to must be global (``ipaddress.is_global``, and not 6to4,
  site-local or a NAT64 form of a non-global IPv4 address) unless private hosts are allowed.
- The host is resolved ONCE per connection and the socket connects to an address that was checked:
  a DNS answer that changes between the check and the connect (rebinding) cannot move the request
  elsewhere. The URL's host is still what the Host header and TLS SNI carry.
- A request has one total deadline covering connect, TLS, the request and every read of the answer:
  a receiver that drips one byte at a time cannot hold a worker beyond the channel's ``timeout``.

The policy of the request being sent lives in a context variable set by :func:`request_policy`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import socket
import ssl
import time
import typing
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_REFUSED_V6 = (
    (ipaddress.IPv6Network("2002::/16"), "6to4"),
    (ipaddress.IPv6Network("fec0::/10"), "site-local"),
)
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")
_KINDS = ("unspecified", "loopback", "link_local", "private", "reserved")


class UnsafeURLError(ValueError):
    """A channel URL points where Headroom must not send (scheme or address); the message has no URL."""


def refusal(address: IPAddress) -> str | None:
    """Why Headroom must not connect to ``address`` (the kind of address), or None when it is global."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return refusal(address.ipv4_mapped)
        for network, kind in _REFUSED_V6:
            if address in network:
                return kind
        if any(address in network for network in _NAT64):
            return refusal(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address.is_multicast:
        return "multicast"
    if address.is_global:
        return None
    for kind in _KINDS:
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return "shared (carrier-grade NAT)"
    return "non-global"


def resolve(host: str, port: int) -> list[tuple[int, tuple[typing.Any, ...]]]:
    """``(family, sockaddr)`` of every address of ``host`` (one lookup)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeURLError(f"host does not resolve ({exc.strerror or exc})") from exc
    return [(int(family), tuple(sockaddr)) for family, _type, _proto, _name, sockaddr in infos]


def checked(
    addresses: Iterable[tuple[int, tuple[typing.Any, ...]]], allow_private: bool
) -> list[tuple[int, tuple[typing.Any, ...]]]:
    """The addresses, unless one of them may not be reached (then UnsafeURLError names which)."""
    found = list(addresses)
    if not found:
        raise UnsafeURLError("host does not resolve (no address)")
    if allow_private:
        return found
    for _family, sockaddr in found:
        address: IPAddress = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        kind = refusal(address)
        if kind is not None:
            raise UnsafeURLError(
                f"host resolves to a {kind} address ({address}); "
                "set allow_private_hosts: true on the channel to allow it"
            )
    return found


@dataclass(frozen=True, slots=True)
class RequestPolicy:
    allow_private: bool
    deadline: float  # time.monotonic() by which the whole request must be over

    def remaining(self, timeout: float | None, error: type[Exception]) -> float:
        """The time an operation may take: its own timeout, cut to what is left of the deadline."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise error("the request's total deadline has passed")
        return left if timeout is None else min(timeout, left)


_POLICY: ContextVar[RequestPolicy | None] = ContextVar("headroom_request_policy", default=None)
_UNGUARDED = RequestPolicy(allow_private=False, deadline=math.inf)


@contextlib.contextmanager
def request_policy(allow_private: bool, timeout: float) -> Iterator[RequestPolicy]:
    """The policy of the requests sent inside the block: private hosts or not, one total deadline."""
    policy = RequestPolicy(allow_private, time.monotonic() + timeout)
    token = _POLICY.set(policy)
    try:
        yield policy
    finally:
        _POLICY.reset(token)


def _policy() -> RequestPolicy:
    return _POLICY.get() or _UNGUARDED


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every operation ends by the current request's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _policy().remaining(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _policy().remaining(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        wait = _policy().remaining(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, wait))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """Resolves once, checks every address, connects to a checked one (by its numeric address, so
    nothing is looked up again); the TLS layer still verifies and names the URL's host."""

    def __init__(self) -> None:
        self._plain = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        policy = _policy()
        addresses = checked(resolve(host, port), policy.allow_private)
        last: Exception | None = None
        for _family, sockaddr in addresses:
            wait = policy.remaining(timeout, httpcore.ConnectTimeout)
            try:
                stream = self._plain.connect_tcp(str(sockaddr[0]), port, wait, local_address, socket_options)
            except httpcore.ConnectTimeout:
                raise
            except httpcore.ConnectError as exc:
                last = exc
                continue
            return _DeadlineStream(stream)
        raise httpcore.ConnectError(str(last) if last else "no address to connect to")

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not a channel destination")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport over :class:`GuardedBackend`; no keep-alive, so every request resolves and
    checks its host again (and a connection made under one policy never serves another)."""

    def __init__(self) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=10,
            max_keepalive_connections=0,
            network_backend=GuardedBackend(),
        )


class GuardedClient(httpx.Client):
    """The only HTTP client channels send with: guarded transport, no redirects, no proxy variables."""

    def __init__(self) -> None:
        super().__init__(transport=GuardedTransport(), follow_redirects=False, trust_env=False)
