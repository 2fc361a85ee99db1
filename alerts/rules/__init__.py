"""Rule files: loading with ``file:line: field: message`` errors, and the shipped default pack."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from alerts.rules.models import Rule, RuleFile

PACK_DIR = Path(__file__).parent
PACK_FILES = ("postgres.yaml", "mysql.yaml", "pgbouncer.yaml", "activity.yaml", "headroom.yaml")

M = TypeVar("M", bound=BaseModel)


class RuleFileError(ValueError):
    """A rule file is invalid; ``str()`` has one ``file:line: field: message`` line per problem."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def _line_marks(node: yaml.Node, path: tuple[Any, ...], marks: dict[tuple[Any, ...], int]) -> None:
    marks[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            marks[(*path, key)] = key_node.start_mark.line + 1
            _line_marks(value_node, (*path, key), marks)
            marks[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_marks(item, (*path, i), marks)


def _line_for(loc: tuple[Any, ...], marks: dict[tuple[Any, ...], int]) -> int:
    path = tuple(loc)
    while path:
        if path in marks:
            return marks[path]
        path = path[:-1]
    return marks.get((), 1)


_union_tags = {"slack", "pagerduty", "webhook", "alertmanager", "log"}


def format_validation_error(
    exc: ValidationError, source: str, marks: dict[tuple[Any, ...], int]
) -> list[str]:
    """``source:line: dotted.field: message`` for every error of a pydantic validation."""
    lines = []
    for err in exc.errors():
        loc = tuple(
            part for part in err["loc"] if not (isinstance(part, str) and part.startswith("function-"))
        )
        # Discriminated unions add the tag (e.g. 'slack') to the location: keep only parts present in the file.
        path: tuple[Any, ...] = ()
        for part in loc:
            if (*path, part) in marks or isinstance(part, int) or part not in _union_tags:
                path = (*path, part)
        field = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in path).replace(".[", "[")
        message = err["msg"].removeprefix("Value error, ")
        lines.append(f"{source}:{_line_for(path, marks)}: {field or '(top)'}: {message}")
    return lines


def load_yaml_model(path: Path, model: type[M], text: str | None = None) -> M:
    """Read YAML `path` and validate it as `model`; errors carry file and line."""
    source = str(path)
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RuleFileError([f"{source}: cannot read: {exc.strerror}"]) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise RuleFileError([f"{source}:{line}: (yaml): {getattr(exc, 'problem', None) or exc}"]) from exc
    marks: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _line_marks(node, (), marks)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RuleFileError([f"{source}:1: (top): expected a mapping"])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RuleFileError(format_validation_error(exc, source, marks)) from exc


def load_rule_file(path: str | Path) -> list[Rule]:
    """The rules of one YAML file (top-level key ``rules:``); RuleFileError on invalid content."""
    return load_yaml_model(Path(path), RuleFile).rules


def default_pack(disabled: Iterable[str] = ()) -> list[Rule]:
    """The shipped PostgreSQL/MySQL/Headroom rules, minus the `disabled` names."""
    off = set(disabled)
    rules: list[Rule] = []
    for name in PACK_FILES:
        rules.extend(r for r in load_rule_file(PACK_DIR / name) if r.name not in off)
    return rules


def configured_rules(
    inline: Iterable[Rule], rule_files: Iterable[Path], use_default_pack: bool, disabled: Iterable[str] = ()
) -> list[Rule]:
    """Default pack + files + inline rules; a later rule with the same name replaces an earlier one."""
    by_name: dict[str, Rule] = {}
    if use_default_pack:
        for rule in default_pack(disabled):
            by_name[rule.name] = rule
    for path in rule_files:
        for rule in load_rule_file(path):
            by_name[rule.name] = rule
    for rule in inline:
        by_name[rule.name] = rule
    return [r for r in by_name.values() if r.enabled and r.name not in set(disabled)]
