"""The check catalogue's types: a check is data plus one small function of the target's facts."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from collectors.advisors.options import AdvisorOptions
from collectors.dbvalues import Row

SEVERITIES = ("critical", "warning", "info")


@dataclass(frozen=True)
class Facts:
    """What one advisor run read from one target (and the counters of the previous run, if any)."""

    flavour: str  # postgres | mariadb | mysql
    version_num: int  # server_version_num (PostgreSQL), 101106 / 80036 (MariaDB / MySQL)
    version_str: str
    settings: Mapping[str, str]
    rows: Mapping[str, Sequence[Row]]  # named fact queries that answered
    unavailable: Mapping[str, str]  # fact name -> why it could not be read (the grant that is missing)
    previous: Mapping[str, float] = field(default_factory=dict)  # counters of the previous run
    counters: Mapping[str, float] = field(default_factory=dict)  # counters of this run
    memory_bytes: float | None = None  # from the target's configuration (capacity.memory), when known
    disk_bytes: float | None = None  # the data volume's size (capacity.disk_bytes), when known
    storage: str | None = None  # ssd | hdd (capacity.storage), when known
    today: str = ""  # ISO date of the run (release-support checks)
    options: AdvisorOptions = field(default_factory=AdvisorOptions)

    def setting(self, name: str) -> str | None:
        return self.settings.get(name)

    def delta(self, name: str) -> float | None:
        """This run's counter minus the previous run's; None when either is missing or it went down."""
        now, before = self.counters.get(name), self.previous.get(name)
        if now is None or before is None or now < before:
            return None
        return now - before


@dataclass(frozen=True)
class Hit:
    """One finding of a check: the sentence with its evidence, and the fix when it differs per hit."""

    finding: str
    fix: str | None = None
    subject: str = ""  # what the finding is about (a table, an account), for telling hits apart


@dataclass(frozen=True)
class Check:
    id: str
    engines: tuple[str, ...]  # flavours: postgres, mariadb, mysql
    area: str  # configuration | security
    severity: str
    title: str
    reads: tuple[str, ...]  # the settings, catalog views or counters it reads
    fix: str
    doc: str
    evaluate: Callable[[Facts], list[Hit]]
    needs: tuple[str, ...] = ()  # fact queries it needs; when one is unavailable the check is skipped
    min_version: int = 0
    max_version: int | None = None

    def applies(self, flavour: str, version_num: int) -> bool:
        if flavour not in self.engines or version_num < self.min_version:
            return False
        return self.max_version is None or version_num <= self.max_version


@dataclass(frozen=True)
class Finding:
    check: str
    severity: str
    area: str
    title: str
    target: str
    finding: str
    fix: str
    doc: str
    subject: str = ""

    @property
    def key(self) -> str:
        return f"{self.check}:{self.subject}"


@dataclass(frozen=True)
class Skipped:
    check: str
    target: str
    reason: str
