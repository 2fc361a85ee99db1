"""What crosses the driver and plugin boundary of the engines: the one place their types say ``Any``.

The engines, the runner and the store API are checked with mypy's ``disallow_any_explicit``; the aliases
here are the listed allowance (pyproject: ``[[tool.mypy.overrides]]``):

- a column value is whatever the driver returns (int, float, Decimal, str, bytes, datetime, bool, None…),
  and a bind parameter whatever it accepts;
- a decoded JSON answer of Prometheus's HTTP API has the shape the server chose (read defensively);
- a ``python:`` metric keeps its own state between polls and receives the collector options it needs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

DbValue = Any  # a column value or bind parameter, as the driver returns / takes it
Row = dict[str, DbValue]
Params = Sequence[DbValue] | Mapping[str, DbValue]
Json = Any  # a decoded JSON document whose shape the remote server chose
PythonState = dict[str, Any]  # what a python: metric keeps between polls (its own business)
Options = dict[str, Any]  # collector options a python: metric reads (top_statements…)
PythonMetric = Callable[..., Any]  # a python: metric function (plain or coroutine, returns rows)
ApiCall = Callable[..., Json]  # a call of the Prometheus client library
