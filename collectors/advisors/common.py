"""Checks both engine families share: release support windows and current minor releases."""

from __future__ import annotations

from collectors.advisors.catalogue import Facts, Hit
from collectors.advisors.releases import RECORDED, branch_of, version_tuple


def _version(facts: Facts) -> str:
    if facts.flavour == "postgres":
        major, minor = divmod(facts.version_num, 10000)
        return f"{major}.{minor}"
    return facts.version_str.split("-")[0].split()[0]


def end_of_life(facts: Facts) -> list[Hit]:
    branch = branch_of(facts.flavour, _version(facts))
    if branch is None or not facts.today or facts.today < branch.end_of_life:
        return []
    return [
        Hit(
            f"{facts.flavour} {branch.branch} reached its end of life on {branch.end_of_life}: "
            f"it gets no more security fixes (server {_version(facts)})"
        )
    ]


def behind_minor(facts: Facts) -> list[Hit]:
    version = _version(facts)
    branch = branch_of(facts.flavour, version)
    if branch is None or branch.minor_floor is None:
        return []
    if version_tuple(version) >= version_tuple(branch.minor_floor):
        return []
    return [
        Hit(
            f"server {version} is behind {branch.minor_floor}, a minor release of its branch known to be out "
            f"(release table of {RECORDED})"
        )
    ]
