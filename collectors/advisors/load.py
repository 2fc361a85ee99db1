"""The check catalogue, read from ``collectors/advisors/definitions/*.yaml``.

Each entry is a check's data (id, engines, versions, what it reads, severity, title, fix, link) and
the name of the one function of the target's facts that evaluates it, ``module.function`` with the
module one of :data:`MODULES`. A malformed entry is an error naming the file, the entry and the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from collectors.advisors import common, mysql_checks, pg_checks
from collectors.advisors.catalogue import SEVERITIES, Check, Facts, Hit

DEFINITIONS = Path(__file__).parent / "definitions"
#: the files of the catalogue, in the order docs/advisors.md lists them
FILES = ("postgres.yaml", "mysql.yaml")
#: the modules an entry's ``evaluate:`` may name
MODULES: Mapping[str, ModuleType] = {"pg_checks": pg_checks, "mysql_checks": mysql_checks, "common": common}
AREAS = ("configuration", "security")
FLAVOURS = ("postgres", "mariadb", "mysql")

_REQUIRED = ("id", "engines", "area", "severity", "title", "reads", "fix", "doc", "evaluate")
_OPTIONAL = ("needs", "min_version", "max_version")


class CatalogueError(ValueError):
    """A check definition is invalid; the message names the file, the check and the field."""


def _strings(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise CatalogueError(f"{where}: expected a list of names")
    return tuple(value)


def _text(entry: Mapping[str, Any], key: str, where: str, allowed: tuple[str, ...] = ()) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CatalogueError(f"{where}: {key}: required text")
    if allowed and value not in allowed:
        raise CatalogueError(f"{where}: {key}: {value!r} is not one of {', '.join(allowed)}")
    return value


def _function(ref: str, where: str) -> Callable[[Facts], list[Hit]]:
    module_name, _, name = ref.partition(".")
    module = MODULES.get(module_name)
    fn = getattr(module, name, None) if module is not None and name else None
    if not callable(fn):
        raise CatalogueError(f"{where}: evaluate: {ref!r} is not a function of {', '.join(MODULES)}")
    return fn


def _version(entry: Mapping[str, Any], key: str, where: str) -> int | None:
    value = entry.get(key)
    if value is not None and (not isinstance(value, int) or value < 0):
        raise CatalogueError(f"{where}: {key}: expected a server version number such as 130000")
    return value


def parse_check(entry: object, where: str) -> Check:
    if not isinstance(entry, dict):
        raise CatalogueError(f"{where}: expected a mapping")
    where = f"{where} {entry.get('id', '?')}"
    unknown = set(entry) - set(_REQUIRED) - set(_OPTIONAL)
    if unknown:
        raise CatalogueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    engines = _strings(entry.get("engines"), f"{where}: engines")
    if set(engines) - set(FLAVOURS):
        raise CatalogueError(f"{where}: engines: expected some of {', '.join(FLAVOURS)}")
    return Check(
        id=_text(entry, "id", where),
        engines=engines,
        area=_text(entry, "area", where, AREAS),
        severity=_text(entry, "severity", where, SEVERITIES),
        title=_text(entry, "title", where),
        reads=_strings(entry.get("reads"), f"{where}: reads"),
        fix=_text(entry, "fix", where),
        doc=_text(entry, "doc", where),
        evaluate=_function(_text(entry, "evaluate", where), where),
        needs=_strings(entry["needs"], f"{where}: needs") if "needs" in entry else (),
        min_version=_version(entry, "min_version", where) or 0,
        max_version=_version(entry, "max_version", where),
    )


def load_checks(path: Path) -> list[Check]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, list):
        raise CatalogueError(f"{path}: expected a list of checks")
    return [parse_check(entry, f"{path}: check {i + 1}") for i, entry in enumerate(data)]


@cache
def catalogue() -> tuple[Check, ...]:
    """Every shipped check, in file order; ids are unique."""
    checks = [c for name in FILES for c in load_checks(DEFINITIONS / name)]
    seen: set[str] = set()
    for c in checks:
        if c.id in seen:
            raise CatalogueError(f"{DEFINITIONS}: check id {c.id} is defined twice")
        seen.add(c.id)
    return tuple(checks)
