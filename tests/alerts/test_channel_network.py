"""Where a channel connects and for how long: DNS rebinding cannot move a request after the check,
every non-global address is refused, Host and SNI keep the URL's name, one deadline per request."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpcore
import pytest
from alert_helpers import alerts_config
from receivers import Receiver, Reply

from alerts.channels import send
from alerts.channels.config import ChannelBase
from alerts.channels.netguard import GuardedClient
from alerts.config import AlertsConfig

REAL_GETADDRINFO = socket.getaddrinfo
GLOBAL_ADDRESS = "93.184.215.14"  # a global address; the tests never really connect to it (see `dials`)


def webhook(url: str, **extra: Any) -> ChannelBase:
    cfg = AlertsConfig.model_validate(
        alerts_config(
            allow_private_webhook_hosts=False,
            channels=[{"type": "webhook", "name": "hook", "url": url, **extra}],
        )
    )
    return cfg.channels[0]


class Resolver:
    """Answers for names under `.test` from a list (the last answer repeats); everything else, numeric
    addresses included, goes to the system resolver. Counts the lookups of each name."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.calls: dict[str, int] = {}

    def __call__(
        self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in self.answers:
            return REAL_GETADDRINFO(host, port, family, type, proto, flags)
        n = self.calls.get(name, 0)
        self.calls[name] = n + 1
        address = self.answers[name][min(n, len(self.answers[name]) - 1)]
        fam = socket.AF_INET6 if ":" in address else socket.AF_INET
        sockaddr = (address, int(port), 0, 0) if fam == socket.AF_INET6 else (address, int(port))
        return [(fam, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[dict[str, list[str]]], Resolver]]:
    def install(answers: dict[str, list[str]]) -> Resolver:
        fake = Resolver(answers)
        monkeypatch.setattr(socket, "getaddrinfo", fake)
        return fake

    yield install


@pytest.fixture
def dials(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The numeric addresses the guarded backend dials. A loopback address is really connected; any
    other is refused here, before a packet leaves the machine (tests send nothing outside it)."""
    dialled: list[str] = []
    real_connect = httpcore.SyncBackend.connect_tcp

    def connect(self: httpcore.SyncBackend, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        dialled.append(host)
        if not ipaddress.ip_address(host).is_loopback:
            raise httpcore.ConnectError(f"not dialled from the tests: {host}")
        return real_connect(self, host, port, *args, **kwargs)

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", connect)
    return dialled


def test_dns_rebinding_cannot_move_the_request_to_loopback(
    resolver: Callable[[dict[str, list[str]]], Resolver],
    receiver_factory: Callable[[str], Receiver],
    dials: list[str],
) -> None:
    rec = receiver_factory("generic")
    port = int(rec.url.rsplit(":", 1)[1])
    # first answer: a global address (passes the check); every later answer: the loopback receiver
    fake = resolver({"hooks.rebind.test": [GLOBAL_ADDRESS, "127.0.0.1"]})
    channel = webhook(f"http://hooks.rebind.test:{port}/hook", timeout=1)
    with GuardedClient() as client:
        send(client, channel, {"version": "4"}, allow_private=False)
    assert rec.requests == [], "the request reached the loopback address the name was rebound to"
    assert fake.calls["hooks.rebind.test"] == 1  # resolved once
    assert dials == [GLOBAL_ADDRESS]  # the connection went to the checked address


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("100.64.0.1", "shared (carrier-grade NAT)"),
        ("100.127.255.254", "shared (carrier-grade NAT)"),
        ("2002:7f00:1::1", "6to4"),  # 6to4 of 127.0.0.1
        ("2002:808:808::1", "6to4"),
        ("fec0::1", "site-local"),
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 form of 169.254.169.254
        ("::ffff:10.1.2.3", "private"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("192.0.2.10", "private"),  # documentation range: never a real receiver
        ("224.0.0.1", "multicast"),
    ],
)
def test_every_non_global_address_is_refused(
    address: str, kind: str, resolver: Callable[[dict[str, list[str]]], Resolver]
) -> None:
    resolver({"hook.example.test": [address]})
    for url in (
        "http://hook.example.test/x",
        f"http://{address if ':' not in address else f'[{address}]'}/x",
    ):
        with GuardedClient() as client:
            result = send(client, webhook(url, timeout=1), {"version": "4"}, allow_private=False)
        assert result.outcome == "permanent", (url, result)
        assert result.error == (
            f"refused: host resolves to a {kind} address ({address.removeprefix('::ffff:')}); "
            "set allow_private_hosts: true on the channel to allow it"
        ), url


def test_a_global_address_is_not_refused(
    resolver: Callable[[dict[str, list[str]]], Resolver], dials: list[str]
) -> None:
    resolver({"hook.example.test": [GLOBAL_ADDRESS]})
    with GuardedClient() as client:
        result = send(
            client, webhook("http://hook.example.test/x", timeout=1), {"version": "4"}, allow_private=False
        )
    assert not (result.error or "").startswith("refused"), result
    assert dials == [GLOBAL_ADDRESS]


def test_host_header_keeps_the_url_name(
    resolver: Callable[[dict[str, list[str]]], Resolver], receiver_factory: Callable[[str], Receiver]
) -> None:
    rec = receiver_factory("generic")
    port = int(rec.url.rsplit(":", 1)[1])
    fake = resolver({"hooks.local.test": ["127.0.0.1"]})
    channel = webhook(f"http://hooks.local.test:{port}/hook", allow_private_hosts=True)
    with GuardedClient() as client:
        assert send(client, channel, {"version": "4"}, allow_private=False).outcome == "ok"
    assert rec.requests[0].headers["host"] == f"hooks.local.test:{port}"
    assert fake.calls["hooks.local.test"] == 1


@pytest.fixture
def tls_server(
    tmp_path: Path, need_binary: Callable[[str, str], str]
) -> Iterator[tuple[int, list[str | None]]]:
    """A TLS listener on 127.0.0.1 with a self-signed certificate that records the SNI of each hello."""
    openssl = need_binary("openssl", "openssl")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=hooks.tls.test",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)  # type: ignore[assignment,misc]
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                conn.settimeout(5)
                context.wrap_socket(conn, server_side=True).close()
            except (ssl.SSLError, OSError):
                pass
            finally:
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1]), names
    stop.set()
    thread.join(5)
    listener.close()


def test_tls_sni_carries_the_url_name(
    resolver: Callable[[dict[str, list[str]]], Resolver], tls_server: tuple[int, list[str | None]]
) -> None:
    port, names = tls_server
    resolver({"hooks.tls.test": ["127.0.0.1"]})
    channel = webhook(f"https://hooks.tls.test:{port}/hook", allow_private_hosts=True, timeout=5)
    with GuardedClient() as client:
        result = send(client, channel, {"version": "4"}, allow_private=False)
    # the self-signed certificate is (rightly) not trusted; the hello named the URL's host, not the address
    assert (
        result.outcome == "retry" and result.error is not None and "CERTIFICATE_VERIFY_FAILED" in result.error
    )
    assert names == ["hooks.tls.test"]


def test_one_deadline_for_the_whole_request(receiver_factory: Callable[[str], Receiver]) -> None:
    """A receiver that drips its answer one byte every 0.5 s never waits 0.5 s between reads (so no
    per-read timeout fires); the request still ends at the channel's timeout."""
    rec = receiver_factory("generic")
    rec.push(Reply(200, {"ok": True}, drip=0.5))
    channel = webhook(rec.url + "/hook", timeout=2, allow_private_hosts=True)
    with GuardedClient() as client:
        result = send(client, channel, {"version": "4"}, allow_private=False)
    assert result.outcome == "retry"
    assert result.error is not None and result.error.startswith("timeout after 2s")
    got = rec.wait_for(1, accepted_only=False)[0]
    full = len(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n") + 12
    # the client stopped reading after about 2 s of the 0.5 s drip, far from the whole answer
    assert got.bytes_sent < full // 2, got.bytes_sent
