"""Loading ``headroom.yaml``: the whole configuration, validated, with errors that name file and line.

Path: ``--config``, else ``$HEADROOM_CONFIG``, else ``./headroom.yaml``. Every problem found is
reported as ``headroom.yaml:14: targets[2].dsn: <message>`` through :class:`ConfigError`.
``<name>_file`` options are read here (relative to the config file's directory) and become the
secret ``<name>``; every secret value is registered with :mod:`headroom_core.redact` so no log line or
error message can show it.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr, ValidationError

from alerts.config import AlertsConfig
from collectors.config import CollectorConfig, PrometheusConfig, TargetConfig
from dashboard.config import DashboardConfig
from forecasting.config import ForecastingConfig
from headroom.config_walk import (
    model_at,
    register_raw_secrets,
    walk_models,
    walk_values,
)
from headroom.yaml_lines import LocatedDoc, Path_, YamlSyntaxError, format_path, load_located
from headroom_core import redact
from headroom_core.configtypes import Secret, StrictModel
from headroom_core.redact import dsn_secret_parameters, dsn_with_password
from store.config import StoreConfig

CONFIG_ENV = "HEADROOM_CONFIG"
DEFAULT_CONFIG_NAME = "headroom.yaml"


class ConfigError(Exception):
    """The configuration cannot be used; ``messages`` are ready to print, one problem each."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("\n".join(messages))
        self.messages = messages


class HeadroomConfig(StrictModel):
    store: StoreConfig = Field(default_factory=StoreConfig, description="Where the metrics history is kept.")
    targets: list[TargetConfig] = Field(
        default_factory=list, description="The database servers to watch (one entry per server)."
    )
    collector: CollectorConfig = Field(
        default_factory=CollectorConfig, description="How the collector process runs."
    )
    prometheus: PrometheusConfig | None = Field(
        default=None, description="Optional Prometheus server to import live values and history from."
    )
    forecasting: ForecastingConfig = Field(
        default_factory=ForecastingConfig, description="Forecasts and capacity."
    )
    alerts: AlertsConfig = Field(
        default_factory=AlertsConfig, description="Alert rules, channels and routes."
    )
    dashboard: DashboardConfig = Field(default_factory=DashboardConfig, description="The web dashboard.")

    _source_path: Path | None = PrivateAttr(default=None)
    _file_secrets: dict[str, Secret] = PrivateAttr(default_factory=dict)

    @property
    def source_path(self) -> Path | None:
        """The file this configuration was loaded from (``None`` when built in code)."""
        return self._source_path

    def file_secret(self, dotted: str) -> Secret | None:
        """A secret read from a ``*_file`` option whose model has no field for it (``"store.password"``)."""
        return self._file_secrets.get(dotted)

    def store_url_revealed(self) -> str:
        """The store URL with its password (from ``store.password_file``): for opening the store only."""
        return store_url_revealed(self)

    def target(self, name: str) -> TargetConfig:
        for target in self.targets:
            if target.name == name:
                return target
        known = ", ".join(t.name for t in self.targets) or "none configured"
        raise KeyError(f"no target named {name!r} (targets: {known})")


def resolve_config_path(path: Path | str | None, env: Mapping[str, str] | None = None) -> Path:
    """``path`` if given, else ``$HEADROOM_CONFIG``, else ``./headroom.yaml``."""
    env = os.environ if env is None else env
    if path is not None and str(path) != "":
        return Path(path)
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    return Path(DEFAULT_CONFIG_NAME)


def load_config(path: Path | str | None = None, *, env: Mapping[str, str] | None = None) -> HeadroomConfig:
    """Read, expand, validate and resolve the configuration file. Raises :class:`ConfigError`."""
    config_path = resolve_config_path(path, env)
    shown = str(config_path)
    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [
                f"{shown}: configuration file not found (give --config PATH, set {CONFIG_ENV}, "
                "or create one with `headroom init`)"
            ]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{shown}: cannot read the configuration file: {_os_reason(exc)}"]) from None
    return parse_config(
        text, source=shown, base_dir=config_path.resolve().parent, env=env, source_path=config_path
    )


def parse_config(
    text: str,
    *,
    source: str = DEFAULT_CONFIG_NAME,
    base_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    source_path: Path | None = None,
) -> HeadroomConfig:
    """Validate configuration ``text``; errors name ``source`` and the line."""
    try:
        doc = load_located(text, env)
    except YamlSyntaxError as exc:
        raise ConfigError([f"{source}:{exc.line}: {exc.message}"]) from None
    messages = [_message(source, line, path, problem) for path, line, problem in doc.problems]
    if not isinstance(doc.data, dict):
        raise ConfigError(messages + [f"{source}:{doc.line_for(())}: the file must be a mapping of sections"])
    problem_paths = {path for path, _, _ in doc.problems}
    register_raw_secrets(doc.data, HeadroomConfig)  # before validation, so no error message can show one
    try:
        # a section left empty (`alerts:` with everything below commented out) means its defaults
        data = {
            key: value
            for key, value in doc.data.items()
            if not (
                value is None
                and key in HeadroomConfig.model_fields
                and HeadroomConfig.model_fields[key].default is not None
            )
        }
        cfg = HeadroomConfig.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            path, text_ = _describe(doc, tuple(error["loc"]), error)
            if path not in problem_paths:
                messages.append(_message(source, doc.line_for(path), path, text_))
        raise ConfigError(_by_line(messages, source)) from None
    if messages:
        raise ConfigError(_by_line(messages, source))
    messages += _check_duplicates(cfg, doc, source)
    messages += _check_metrics_ports(cfg, doc, source)
    messages += _read_secret_files(cfg, doc, source, base_dir or Path.cwd())
    messages += _check_store_url(cfg, doc, source)
    if messages:
        raise ConfigError(messages)
    cfg._source_path = source_path
    register_config_secrets(cfg)
    return cfg


def store_url_revealed(cfg: HeadroomConfig) -> str:
    """The store URL with the password from ``store.password_file`` in it, for opening the store only."""
    secret = cfg.file_secret("store.password")
    if secret is None:
        return cfg.store.url
    from sqlalchemy.engine import make_url

    url = make_url(cfg.store.url)
    if url.drivername.startswith("sqlite"):
        return cfg.store.url
    return url.set(password=secret.reveal()).render_as_string(hide_password=False)


def store_url_display(cfg: HeadroomConfig) -> str:
    """The store URL for humans: ``<secret>`` where a password is."""
    url = cfg.store.url
    if cfg.file_secret("store.password") is not None and "://" in url:
        url = dsn_with_password(url, "x")
    return redact.redact_dsn(url)


def register_config_secrets(cfg: HeadroomConfig) -> None:
    """Register every secret the configuration holds with the redactor."""
    for secret in cfg._file_secrets.values():
        redact.register_secret_url(secret.reveal())
    for _path, value in walk_values(cfg, ()):
        if isinstance(value, Secret):
            redact.register_secret_url(value.reveal())
        elif isinstance(value, str) and ("://" in value or "password" in value):
            redact.register_dsn(value)


def weak_secrets(cfg: HeadroomConfig) -> list[str]:
    """Config paths of secrets too weak to be masked everywhere (:func:`headroom_core.redact.is_weak`)."""
    found = [path for path, secret in cfg._file_secrets.items() if redact.is_weak(secret.reveal())]
    for path, value in walk_values(cfg, ()):
        if isinstance(value, Secret) and redact.is_weak(value.reveal()):
            found.append(format_path(path))
        elif isinstance(value, str) and any(redact.is_weak(v) for v in dsn_secret_parameters(value)):
            found.append(format_path(path))
    return sorted(set(found))


# -- helpers ---------------------------------------------------------------------------------------


def _by_line(messages: list[str], source: str) -> list[str]:
    def line(message: str) -> int:
        head = message[len(source) + 1 :].split(":", 1)[0]
        return int(head) if head.isdigit() else 0

    return sorted(messages, key=line)


def _message(source: str, line: int, path: Path_, text: str) -> str:
    where = format_path(path)
    return f"{source}:{line}: {where}: {text}" if where else f"{source}:{line}: {text}"


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__


def _describe(doc: LocatedDoc, loc: tuple[Any, ...], error: Mapping[str, Any]) -> tuple[Path_, str]:
    """Map a pydantic error location onto the data's path (dropping union tags) and word the message."""
    path: list[str | int] = []
    node: Any = doc.data
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            node = node[part]
            path.append(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            path.append(part)
        elif (
            last
            and isinstance(node, dict)
            and isinstance(part, str)
            and error["type"] in ("missing", "extra_forbidden")
        ):
            path.append(part)
            node = None
        # anything else is a union member tag or a validator name: not part of the file's path
    msg = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    kind = error["type"]
    if kind == "missing":
        msg = "required option is missing"
    elif kind == "extra_forbidden":
        msg = _unknown_key_message(tuple(path), doc.data)
    elif isinstance(node, dict):
        head, sep, rest = msg.partition(": ")
        if sep and head in node:  # "dsn: ..." raised by a model validator: point at the key itself
            path.append(head)
            msg = rest
    return tuple(path), msg


def _unknown_key_message(path: Path_, data: Any) -> str:
    key = str(path[-1]) if path else "?"
    model = model_at(HeadroomConfig, path[:-1], data)
    if model is None:
        return f"unknown option {key!r}"
    allowed = [info.alias or name for name, info in model.model_fields.items()]
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown option {key!r}{hint} (allowed: {', '.join(allowed)})"


def _read_secret_files(cfg: HeadroomConfig, doc: LocatedDoc, source: str, base_dir: Path) -> list[str]:
    """Read every ``<name>_file`` option; its content becomes the secret ``<name>``."""
    messages: list[str] = []
    for model, path in list(walk_models(cfg, ())):
        fields = type(model).model_fields
        for name in fields:
            if not name.endswith("_file") or name == "_file":
                continue
            file_value = getattr(model, name)
            if file_value is None:
                continue
            base = name[: -len("_file")]
            field_path = (*path, name)
            line = doc.line_for(field_path)
            if base in fields and _raw_has(doc, (*path, base)):
                messages.append(_message(source, line, field_path, f"set either {base} or {name}, not both"))
                continue
            file_path = Path(str(file_value)).expanduser()
            if not file_path.is_absolute():
                file_path = base_dir / file_path
            try:
                content = file_path.read_text(encoding="utf-8").rstrip("\r\n")
            except (OSError, UnicodeDecodeError) as exc:
                messages.append(
                    _message(source, line, field_path, f"cannot read {file_path}: {_os_reason(exc)}")
                )
                continue
            if not content:
                messages.append(_message(source, line, field_path, f"{file_path} is empty"))
                continue
            secret = Secret(content)
            if base in fields:
                try:
                    setattr(model, base, secret)
                except ValidationError:
                    setattr(model, base, content)
            else:
                cfg._file_secrets[format_path((*path, base))] = secret
    return messages


def _raw_has(doc: LocatedDoc, path: Path_) -> bool:
    node: Any = doc.data
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return False
    return node is not None


def _check_duplicates(cfg: HeadroomConfig, doc: LocatedDoc, source: str) -> list[str]:
    messages: list[str] = []
    seen: dict[str, int] = {}
    for index, target in enumerate(cfg.targets):
        path: Path_ = ("targets", index, "name")
        if target.name in seen:
            first = doc.line_for(("targets", seen[target.name], "name"))
            messages.append(
                _message(
                    source,
                    doc.line_for(path),
                    path,
                    f"duplicate target name {target.name!r} (first at line {first})",
                )
            )
        else:
            seen[target.name] = index
    return messages


def _check_metrics_ports(cfg: HeadroomConfig, doc: LocatedDoc, source: str) -> list[str]:
    """Each long-running stage serves its own /metrics: two sections may not claim the same port
    (under `headroom up` the second process could not start)."""
    messages: list[str] = []
    seen: dict[tuple[str, int], str] = {}
    for section in ("collector", "forecasting", "alerts"):
        part = getattr(cfg, section)
        if part.metrics_port is None:
            continue
        key = (part.metrics_address, int(part.metrics_port))
        path: Path_ = (section, "metrics_port")
        if key in seen:
            messages.append(
                _message(
                    source,
                    doc.line_for(path),
                    path,
                    f"port {part.metrics_port} is also {seen[key]}.metrics_port: each process needs its own",
                )
            )
        else:
            seen[key] = section
    return messages


def _check_store_url(cfg: HeadroomConfig, doc: LocatedDoc, source: str) -> list[str]:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(cfg.store.url)
    except ArgumentError:
        path: Path_ = ("store", "url")
        return [
            _message(
                source,
                doc.line_for(path),
                path,
                "not a valid store URL: expected sqlite:///path/to/metrics.db or postgresql+psycopg://user@host/db",
            )
        ]
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        path = ("store", "url")
        return [
            _message(source, doc.line_for(path), path, "the store must be sqlite:// or postgresql+psycopg://")
        ]
    return []
