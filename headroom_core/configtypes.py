"""Primitives shared by every package's configuration model.

They live in ``store`` because it is the bottom layer every other package may import.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, GetCoreSchemaHandler, PlainSerializer
from pydantic_core import core_schema

SECRET_MASK = "<secret>"


class Secret:
    """A value that must never be shown: ``str()`` and ``repr()`` give ``<secret>``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __str__(self) -> str:
        return SECRET_MASK

    def __repr__(self) -> str:
        return f"Secret({SECRET_MASK!r})"

    def __format__(self, spec: str) -> str:
        return SECRET_MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def validate(value: Any) -> Secret:
            if isinstance(value, Secret):
                return value
            if isinstance(value, str):
                return cls(value)
            raise ValueError("expected a string")

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(lambda v: SECRET_MASK),
        )


_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, None: 1.0}


def parse_duration(value: Any) -> float:
    """``"15s"``, ``"5m"``, ``"2h"``, ``"7d"``, ``"1w"``, ``"250ms"`` or a number of seconds → seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 15s, 5m, 2h, 7d")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION_RE.match(value)
        if not match:
            raise ValueError(f"invalid duration {value!r}: expected a number with a unit ms, s, m, h, d or w")
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    else:
        raise ValueError("expected a duration like 15s, 5m, 2h, 7d")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?i?b?)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "p": 1000**5,
    "pb": 1000**5,
    "ki": 1024,
    "kib": 1024,
    "mi": 1024**2,
    "mib": 1024**2,
    "gi": 1024**3,
    "gib": 1024**3,
    "ti": 1024**4,
    "tib": 1024**4,
    "pi": 1024**5,
    "pib": 1024**5,
}


def parse_byte_size(value: Any) -> int:
    """``"500GB"`` (decimal), ``"512GiB"`` (binary), ``"10MB"`` or a plain number of bytes → bytes."""
    if isinstance(value, bool):
        raise ValueError("expected a size like 500GB or 512GiB")
    if isinstance(value, int | float):
        size = float(value)
    elif isinstance(value, str):
        match = _SIZE_RE.match(value)
        unit = (match.group(2) or "").lower() if match else None
        if not match or unit not in _SIZE_UNITS:
            raise ValueError(
                f"invalid size {value!r}: expected a number with a unit B, KB, MB, GB, TB, KiB, MiB, GiB, TiB"
            )
        size = float(match.group(1)) * _SIZE_UNITS[unit]
    else:
        raise ValueError("expected a size like 500GB or 512GiB")
    if size < 0:
        raise ValueError("a size cannot be negative")
    return int(size)


def parse_positive_duration(value: Any) -> float:
    """:func:`parse_duration`, refusing zero (an interval, a timeout or a retention of 0 means nothing
    sensible: libpq even reads a connect_timeout of 0 as "wait forever")."""
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError("a duration must be more than 0 (e.g. 250ms, 15s, 5m)")
    return seconds


Duration = Annotated[
    float, BeforeValidator(parse_positive_duration), PlainSerializer(lambda v: v, return_type=float)
]
"""Seconds, more than 0, written in the config as ``15s``, ``5m``, ``2h``, ``7d``."""

DurationOrZero = Annotated[
    float, BeforeValidator(parse_duration), PlainSerializer(lambda v: v, return_type=float)
]
"""Seconds, 0 allowed (``for: 0s`` fires at once, ``group_wait: 0s`` sends at once)."""

ByteSize = Annotated[int, BeforeValidator(parse_byte_size)]
"""Bytes, written in the config as ``500GB``, ``512GiB`` or a number."""


class StrictModel(BaseModel):
    """Base of every configuration model: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, arbitrary_types_allowed=True)


class MetricsEndpointConfig(StrictModel):
    """The ``metrics_port`` / ``metrics_address`` of a long-running stage (collector, forecasting,
    alerts): where its process serves its own OpenMetrics ``/metrics``."""

    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port of this process's own Prometheus /metrics endpoint (its counters and "
        "headroom_build_info); empty turns it off.",
    )
    metrics_address: str = Field(
        default="127.0.0.1",
        description="Address the metrics endpoint listens on (0.0.0.0 in a container, so Prometheus can scrape it).",
    )
