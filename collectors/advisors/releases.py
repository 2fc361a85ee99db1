"""Release support windows and current minor releases, kept by hand.

``RECORDED`` is the date this table was last checked against the projects' release pages. The minor
releases are a floor: a server below one is certainly behind (a newer minor may exist that the table
does not know yet, so a stale table under-reports, never over-reports). A branch missing here is never
flagged. Sources: https://www.postgresql.org/support/versioning/,
https://mariadb.org/about/#maintenance-policy, https://www.oracle.com/us/support/library/lifetime-support-technology-069183.pdf
"""

from __future__ import annotations

from dataclasses import dataclass

RECORDED = "2026-11-13"


@dataclass(frozen=True)
class Branch:
    flavour: str
    branch: str  # "15", "10.11", "8.4"
    end_of_life: str  # ISO date the branch stops getting fixes
    minor_floor: str | None = None  # a minor release known to be out (None: not recorded)


BRANCHES: tuple[Branch, ...] = (
    Branch("postgres", "11", "2023-11-09"),
    Branch("postgres", "12", "2024-11-21"),
    Branch("postgres", "13", "2025-11-13", "13.22"),
    Branch("postgres", "14", "2026-11-12", "14.19"),
    Branch("postgres", "15", "2027-11-11", "15.19"),
    Branch("postgres", "16", "2028-11-09", "16.10"),
    Branch("postgres", "17", "2029-11-08", "17.6"),
    Branch("postgres", "18", "2030-11-14", "18.0"),
    Branch("mariadb", "10.4", "2024-06-18"),
    Branch("mariadb", "10.5", "2025-06-24"),
    Branch("mariadb", "10.6", "2026-07-06"),
    Branch("mariadb", "10.11", "2028-02-16", "10.11.19"),
    Branch("mariadb", "11.4", "2029-05-29"),
    Branch("mysql", "5.7", "2023-10-31"),
    Branch("mysql", "8.0", "2026-04-30", "8.0.43"),
    Branch("mysql", "8.4", "2032-04-30", "8.4.6"),
)


def version_tuple(text: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in text.split("."):
        digits = ""
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def branch_of(flavour: str, version: str) -> Branch | None:
    """The recorded branch of a server version ("15.19 (Debian …)", "10.11.19-MariaDB-0+deb12u1")."""
    numbers = version_tuple(version.split()[0] if version.split() else version)
    best: Branch | None = None
    for b in BRANCHES:
        key = version_tuple(b.branch)
        if (
            b.flavour == flavour
            and numbers[: len(key)] == key
            and (best is None or len(key) > len(version_tuple(best.branch)))
        ):
            best = b
    return best
