"""``mysql://`` / ``mariadb://`` DSNs → PyMySQL connection arguments, TLS included.

    mysql://headroom@db1.example.com:3306/?ssl_ca=/etc/ssl/ca.pem&ssl_verify_identity=true

Query options (anything else is an error naming the option):

- ``ssl_mode``: ``DISABLED`` | ``REQUIRED`` (encrypt, no certificate check) | ``VERIFY_CA`` |
  ``VERIFY_IDENTITY`` (certificate and host name). Without ``ssl_mode``: when any ``ssl_*`` option
  is given TLS is required (and the certificate verified when ``ssl_ca`` is); with none, TLS is used
  when the server offers it, without a certificate check (``PREFERRED``, PyMySQL's default).
- ``ssl_ca``, ``ssl_cert``, ``ssl_key``: PEM files; ``ssl_verify_cert``, ``ssl_verify_identity``,
  ``ssl_disabled``: true/false.
- ``unix_socket``, ``charset``.

The password (from ``password_file``, the DSN or ``password``) is kept in :class:`MySqlDsn` and
never shown: :meth:`MySqlDsn.where` names the server without it.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

_BOOL_TRUE = {"1", "true", "yes", "on"}
_BOOL_FALSE = {"0", "false", "no", "off"}
_OPTIONS = {
    "ssl_mode",
    "ssl_ca",
    "ssl_cert",
    "ssl_key",
    "ssl_verify_cert",
    "ssl_verify_identity",
    "ssl_disabled",
    "unix_socket",
    "charset",
}
_SSL_MODES = {"DISABLED", "PREFERRED", "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY"}


class DsnError(ValueError):
    """The DSN is not usable; the message names the part that is wrong (never the password)."""


def _bool(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v in _BOOL_TRUE:
        return True
    if v in _BOOL_FALSE:
        return False
    raise DsnError(f"dsn: {name}={value!r} is not true or false")


@dataclass(frozen=True)
class MySqlDsn:
    host: str = "127.0.0.1"
    port: int = 3306
    user: str = ""
    password: str | None = field(default=None, repr=False)
    database: str | None = None
    unix_socket: str | None = None
    charset: str = "utf8mb4"
    ssl_mode: str | None = None  # None: not asked for
    ssl_ca: str | None = None
    ssl_cert: str | None = None
    ssl_key: str | None = None
    ssl_verify_cert: bool | None = None
    ssl_verify_identity: bool = False

    def where(self) -> str:
        """``user@host:port`` (or the socket) — for messages; never carries the password."""
        place = self.unix_socket or f"{self.host}:{self.port}"
        return f"{self.user}@{place}" if self.user else place

    def tls_context(self) -> ssl.SSLContext | None:
        """The TLS context the connection must use, or None (DISABLED, or PREFERRED when nothing
        was asked for)."""
        mode = self.ssl_mode
        if mode is None:
            wants = any(
                v is not None for v in (self.ssl_ca, self.ssl_cert, self.ssl_key, self.ssl_verify_cert)
            )
            if not wants and not self.ssl_verify_identity:
                return None
            if self.ssl_verify_identity:
                mode = "VERIFY_IDENTITY"
            elif self.ssl_verify_cert is False:
                mode = "REQUIRED"
            elif self.ssl_ca is not None or self.ssl_verify_cert:
                mode = "VERIFY_CA"
            else:
                mode = "REQUIRED"
        if mode in ("DISABLED", "PREFERRED"):
            return None
        if mode in ("VERIFY_CA", "VERIFY_IDENTITY"):
            ctx = ssl.create_default_context(cafile=self.ssl_ca)
            ctx.check_hostname = mode == "VERIFY_IDENTITY"
            ctx.verify_mode = ssl.CERT_REQUIRED
        else:  # REQUIRED / PREFERRED: encrypted, certificate not checked
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.ssl_cert:
            ctx.load_cert_chain(self.ssl_cert, self.ssl_key)
        return ctx

    def connect_kwargs(self) -> dict[str, Any]:
        """Arguments for ``pymysql.connect`` (without timeouts and cursor class)."""
        kwargs: dict[str, Any] = {"user": self.user or None, "charset": self.charset}
        if self.password is not None:
            kwargs["password"] = self.password
        if self.unix_socket:
            kwargs["unix_socket"] = self.unix_socket
        else:
            kwargs["host"] = self.host
            kwargs["port"] = self.port
        if self.database:
            kwargs["database"] = self.database
        ctx = self.tls_context()
        if ctx is not None:
            kwargs["ssl"] = ctx
        elif self.ssl_mode == "DISABLED":
            kwargs["ssl_disabled"] = True
        return kwargs


def parse_mysql_dsn(dsn: str) -> MySqlDsn:
    """Parse a ``mysql://user[:password]@host[:port]/[database]?options`` DSN."""
    if "://" not in dsn:
        raise DsnError("dsn: expected a URL like mysql://user@host:3306/")
    parts = urlsplit(dsn)
    scheme = parts.scheme.split("+")[0].lower()
    if scheme not in ("mysql", "mariadb"):
        raise DsnError(f"dsn: scheme {parts.scheme!r}: expected mysql:// or mariadb://")
    try:
        port = parts.port or 3306
    except ValueError:
        raise DsnError("dsn: the port is not a number") from None
    options: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in _OPTIONS:
            raise DsnError(f"dsn: unknown option {key!r} (known: {', '.join(sorted(_OPTIONS))})")
        options[key] = value
    ssl_mode = options.get("ssl_mode")
    if ssl_mode is not None:
        ssl_mode = ssl_mode.strip().upper()
        if ssl_mode not in _SSL_MODES:
            raise DsnError(
                f"dsn: ssl_mode={options['ssl_mode']!r}: expected one of {', '.join(sorted(_SSL_MODES))}"
            )
    if "ssl_disabled" in options and _bool("ssl_disabled", options["ssl_disabled"]):
        ssl_mode = "DISABLED"
    verify_cert = (
        _bool("ssl_verify_cert", options["ssl_verify_cert"]) if "ssl_verify_cert" in options else None
    )
    verify_identity = (
        _bool("ssl_verify_identity", options["ssl_verify_identity"])
        if "ssl_verify_identity" in options
        else False
    )
    database = unquote(parts.path.lstrip("/")) or None
    return MySqlDsn(
        host=parts.hostname or "127.0.0.1",
        port=port,
        user=unquote(parts.username or ""),
        password=unquote(parts.password) if parts.password is not None else None,
        database=database,
        unix_socket=options.get("unix_socket") or None,
        charset=options.get("charset") or "utf8mb4",
        ssl_mode=ssl_mode,
        ssl_ca=options.get("ssl_ca") or None,
        ssl_cert=options.get("ssl_cert") or None,
        ssl_key=options.get("ssl_key") or None,
        ssl_verify_cert=verify_cert,
        ssl_verify_identity=verify_identity,
    )
