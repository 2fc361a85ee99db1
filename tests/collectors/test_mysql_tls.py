"""TLS options of a mysql:// DSN are honoured, against a real MariaDB serving a certificate signed by
a throwaway CA (made here with the openssl command line)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from collectors.config import TargetConfig
from collectors.engines.base import ConnectionLost
from collectors.engines.mysql import MySqlEngine
from testing.servers.mariadb import MariaDbPair
from testing.servers.processes import ram_base_dir

pytestmark = pytest.mark.serial


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _make_ca(d: Path, name: str) -> None:
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        f"{name}.key",
        "-out",
        f"{name}.pem",
        "-days",
        "2",
        "-subj",
        f"/CN={name}",
        cwd=d,
    )


@pytest.fixture
def certs() -> Iterator[Path]:
    if shutil.which("openssl") is None:
        pytest.fail("openssl not found: install the Debian package 'openssl'")
    d = ram_base_dir("headroom-tls-")
    try:
        _make_ca(d, "ca")
        _make_ca(d, "other-ca")
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
            cwd=d,
        )
        (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
        _openssl(
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            cwd=d,
        )
        for f in d.iterdir():
            f.chmod(0o644)  # the server runs as its own user
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _cipher(pair: MariaDbPair, host: str, query: str) -> str:
    inst = pair.instance("primary")
    dsn = f"mysql://{pair.monitor_user}@{host}:{inst.port}/" + (f"?{query}" if query else "")
    engine = MySqlEngine(TargetConfig(name="tls", engine="mysql", dsn=dsn, password=pair.monitor_password))

    async def run() -> str:
        await engine.connect()
        try:
            rows = await engine.fetch("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
            return str(rows[0]["Value"])
        finally:
            await engine.close()

    return asyncio.run(run())


def test_tls_modes(certs: Path, mariadb_pair_factory: Callable[..., MariaDbPair]) -> None:
    pair = mariadb_pair_factory(
        with_replica=False,
        extra_conf={
            "ssl_ca": certs / "ca.pem",
            "ssl_cert": certs / "server.pem",
            "ssl_key": certs / "server.key",
        },
    )
    ca, other = certs / "ca.pem", certs / "other-ca.pem"
    # DISABLED: a plain connection; no ssl option: TLS when the server offers it (PREFERRED)
    assert _cipher(pair, "127.0.0.1", "ssl_mode=DISABLED") == ""
    assert _cipher(pair, "127.0.0.1", "ssl_disabled=true") == ""
    assert _cipher(pair, "127.0.0.1", "") != ""
    # certificate and host name verified against our CA: encrypted
    assert _cipher(pair, "127.0.0.1", f"ssl_mode=VERIFY_IDENTITY&ssl_ca={ca}") != ""
    assert _cipher(pair, "127.0.0.1", f"ssl_ca={ca}&ssl_verify_identity=true") != ""
    # a CA that did not sign the server's certificate is refused
    with pytest.raises(ConnectionLost, match="(?i)certificate"):
        _cipher(pair, "127.0.0.1", f"ssl_mode=VERIFY_CA&ssl_ca={other}")
    # the certificate names 127.0.0.1 only: 'localhost' passes VERIFY_CA but not VERIFY_IDENTITY
    assert _cipher(pair, "localhost", f"ssl_mode=VERIFY_CA&ssl_ca={ca}") != ""
    with pytest.raises(ConnectionLost, match="(?i)hostname|certificate"):
        _cipher(pair, "localhost", f"ssl_mode=VERIFY_IDENTITY&ssl_ca={ca}")
    # REQUIRED encrypts without checking the certificate
    assert _cipher(pair, "localhost", "ssl_mode=REQUIRED") != ""
