"""Running the catalogue against one target: connect, read the facts, evaluate every check that applies."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from collectors.advisors.catalogue import Check, Facts, Finding, Skipped
from collectors.advisors.facts import gather
from collectors.advisors.load import catalogue
from collectors.advisors.options import AdvisorOptions
from collectors.config import TargetConfig
from collectors.dbvalues import Row
from collectors.engines import create_engine
from collectors.engines.base import EngineError

#: every check, in the order docs/advisors.md lists them
CATALOGUE: tuple[Check, ...] = catalogue()


@dataclass
class AdvisorResult:
    target: str
    flavour: str = ""
    version: str = ""
    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    counters: dict[str, float] = field(default_factory=dict)
    error: str | None = None


def counters_of(rows: Mapping[str, Sequence[Row]]) -> dict[str, float]:
    """The cumulative counters a check compares between runs (checkpoints, statement evictions)."""
    out: dict[str, float] = {}
    for fact, keys in (("checkpoints", ("timed", "requested")), ("statements_info", ("dealloc",))):
        got = rows.get(fact) or []
        if got:
            out.update({f"{fact}.{key}": float(got[0][key]) for key in keys if got[0].get(key) is not None})
    return out


def evaluate(
    facts: Facts, target: str, checks: tuple[Check, ...] = CATALOGUE
) -> tuple[list[Finding], list[Skipped]]:
    findings: list[Finding] = []
    skipped: list[Skipped] = []
    for check in checks:
        if not check.applies(facts.flavour, facts.version_num):
            continue
        missing = [
            facts.unavailable.get(n, f"the {n} facts, which were not read")
            for n in check.needs
            if n in facts.unavailable or n not in facts.rows
        ]
        if missing:
            skipped.append(Skipped(check.id, target, "needs " + "; ".join(sorted(set(missing)))))
            continue
        try:
            hits = check.evaluate(facts)
        except (KeyError, TypeError, ValueError) as exc:  # a server answered something unexpected
            skipped.append(Skipped(check.id, target, f"could not evaluate ({type(exc).__name__})"))
            continue
        for hit in hits:
            findings.append(
                Finding(
                    check.id,
                    check.severity,
                    check.area,
                    check.title,
                    target,
                    hit.finding,
                    hit.fix or check.fix,
                    check.doc,
                    hit.subject,
                )
            )
    return findings, skipped


async def advise_target_async(
    target: TargetConfig, previous: Mapping[str, float], today: str, options: AdvisorOptions | None = None
) -> AdvisorResult:
    result = AdvisorResult(target=target.name)
    timeout = float(target.statement_timeout)
    engine = create_engine(target, statement_timeout=timeout)
    try:
        await asyncio.wait_for(engine.connect(), timeout + 5)
        info = await engine.server_info()
        result.flavour, result.version = info.flavour, info.version_str
        if info.flavour not in ("postgres", "mariadb", "mysql"):
            return result  # pgbouncer, prometheus: no checks
        settings, rows, unavailable = await gather(engine, info)
    except (EngineError, TimeoutError, OSError) as exc:
        result.error = str(exc) or type(exc).__name__
        return result
    finally:
        await engine.close()
    result.counters = counters_of(rows)
    memory, disk = target.capacity.memory_bytes, target.capacity.disk_bytes
    facts = Facts(
        flavour=info.flavour,
        version_num=info.version_num,
        version_str=info.version_str,
        settings=settings,
        rows=rows,
        unavailable=unavailable,
        previous=previous,
        counters=result.counters,
        memory_bytes=float(memory) if memory else None,
        disk_bytes=float(disk) if disk else None,
        storage=target.capacity.storage,
        today=today,
        options=options or AdvisorOptions(),
    )
    result.findings, result.skipped = evaluate(facts, target.name)
    return result


def advise_target(
    target: TargetConfig, previous: Mapping[str, float], today: str, options: AdvisorOptions | None = None
) -> AdvisorResult:
    return asyncio.run(advise_target_async(target, previous, today, options))
