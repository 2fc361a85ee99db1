"""Label matchers in Alertmanager syntax: ``name="value"``, ``name!="v"``, ``name=~"re"``, ``name!~"re"``.

Regular expressions are anchored (they must match the whole label value), as in Alertmanager.
A missing label matches as the empty string.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_MATCHER_RE = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|(\S*))\s*$')
_LABEL_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    op: str  # = != =~ !~
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = re.fullmatch(self.value, actual) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.name}{self.op}"{escaped}"'


def parse_matcher(text: str) -> Matcher:
    """Parse one matcher; a ValueError names what is wrong."""
    if not isinstance(text, str):
        raise ValueError('a matcher must be a string like severity="critical"')
    match = _MATCHER_RE.match(text)
    if not match:
        raise ValueError(
            f'invalid matcher {text!r}: expected name="value", name!="value", name=~"regex" or name!~"regex"'
        )
    name, op = match.group(1), match.group(2)
    value = match.group(3) if match.group(3) is not None else (match.group(4) or "")
    value = re.sub(r"\\(.)", r"\1", value)
    if op in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression in matcher {text!r}: {exc}") from exc
    return Matcher(name, op, value)


def parse_matchers(items: Iterable[str] | Mapping[str, str]) -> list[Matcher]:
    """A list of matcher strings, or a mapping of label → exact value."""
    if isinstance(items, Mapping):
        result = []
        for name, value in items.items():
            if not _LABEL_NAME_RE.match(str(name)):
                raise ValueError(f"invalid label name {name!r}")
            result.append(Matcher(str(name), "=", str(value)))
        return result
    return [parse_matcher(item) for item in items]


def all_match(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
