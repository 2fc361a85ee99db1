"""YAML to plain Python data, remembering the line every key and list item came from.

Used by the config loader so that a validation error at ``targets[2].dsn`` can name its line.
``${VAR}`` and ``${VAR:-default}`` are expanded in string values here (``$${`` gives a literal ``${``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

Path_ = tuple[str | int, ...]

_ENV_RE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{[^}]*\}?")
_STR_TAG = "tag:yaml.org,2002:str"


def format_path(path: Path_) -> str:
    """``("targets", 2, "dsn")`` → ``targets[2].dsn``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass
class LocatedDoc:
    """The data of a YAML document plus the 1-based line of every key / list item, by path."""

    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    problems: list[tuple[Path_, int, str]] = field(default_factory=list)

    def line_for(self, path: Path_) -> int:
        """Line of ``path``, or of its closest enclosing key/item that exists in the file."""
        for cut in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:cut]))
            if line is not None:
                return line
        return 1


class YamlSyntaxError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def expand_env(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """Expand ``${VAR}`` / ``${VAR:-default}``; returns the text and the problems found."""
    problems: list[str] = []

    def repl(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        if name is None:
            problems.append(f"invalid variable reference {whole!r}: expected ${{NAME}} or ${{NAME:-default}}")
            return whole
        value = env.get(name)
        if value is None or (value == "" and default is not None):
            if default is not None:
                return default
            problems.append(f"environment variable {name} is not set (set it, or write ${{{name}:-default}})")
            return ""
        return value

    return _ENV_RE.sub(repl, text), problems


#: most nodes one document may expand to (aliases repeat what they point at: a few lines can
#: otherwise expand to billions of nodes)
MAX_NODES = 1_000_000


class _Builder:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.loader = yaml.SafeLoader("")
        self.doc = LocatedDoc(data=None)
        self._active: set[int] = set()  # collections being built, to catch an alias to an ancestor
        self._nodes = 0

    def build(self, node: yaml.Node, path: Path_) -> Any:
        line = node.start_mark.line + 1
        if id(node) in self._active:
            key = path
            while key and isinstance(key[-1], int):  # a list item that is an alias carries its anchor's line
                key = key[:-1]
            line = self.doc.line_for(key) if key else line  # the key under which the alias is used
            raise YamlSyntaxError(
                line, f"{format_path(path)}: recursive alias: it refers to a mapping or list that contains it"
            )
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise YamlSyntaxError(
                line, f"the document expands to more than {MAX_NODES} values (aliases of aliases?)"
            )
        if not isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            return self._scalar(node, path)
        self._active.add(id(node))
        try:
            return self._collection(node, path)
        finally:
            self._active.discard(id(node))

    def _collection(self, node: yaml.Node, path: Path_) -> Any:
        if isinstance(node, yaml.MappingNode):
            try:
                self.loader.flatten_mapping(node)
            except RecursionError:
                raise YamlSyntaxError(node.start_mark.line + 1, "recursive merge key (<<) alias") from None
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                line = key_node.start_mark.line + 1
                if not isinstance(key_node, yaml.ScalarNode):
                    self.doc.problems.append((path, line, "a mapping key must be a plain value"))
                    continue
                key = str(key_node.value)
                if key in result:
                    first = self.doc.lines.get((*path, key), line)
                    self.doc.problems.append(
                        ((*path, key), line, f"duplicate key {key!r} (first at line {first})")
                    )
                    continue
                self.doc.lines[(*path, key)] = line
                result[key] = self.build(value_node, (*path, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                self.doc.lines[(*path, index)] = item.start_mark.line + 1
                items.append(self.build(item, (*path, index)))
            return items
        return None

    def _scalar(self, node: yaml.Node, path: Path_) -> Any:
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self.doc.problems.append((path, node.start_mark.line + 1, str(getattr(exc, "problem", exc))))
            return None
        if node.tag == _STR_TAG and isinstance(value, str) and "${" in value:
            value, problems = expand_env(value, self.env)
            for problem in problems:
                self.doc.problems.append((path, node.start_mark.line + 1, problem))
        return value


def load_located(text: str, env: Mapping[str, str] | None = None) -> LocatedDoc:
    """Parse one YAML document. Raises :class:`YamlSyntaxError` (with its line) on bad YAML."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or str(exc)
        if exc.context:
            problem = f"{problem} ({exc.context})"
        raise YamlSyntaxError(line, problem) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(1, str(exc)) from None
    builder = _Builder(os.environ if env is None else env)
    if root is None:
        builder.doc.data = {}
        return builder.doc
    builder.doc.lines[()] = root.start_mark.line + 1
    builder.doc.data = builder.build(root, ())
    return builder.doc
