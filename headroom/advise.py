"""``headroom check --advise``: run the advisor catalogue on every target, record what changed, print it."""

from __future__ import annotations

import json

import click

from collectors.advisors.catalogue import Finding
from collectors.advisors.record import AdvisorState, load_state, save_result
from collectors.advisors.run import AdvisorResult, advise_target
from collectors.advisors.schedule import day_of
from headroom.config import HeadroomConfig
from headroom_core.redact import mask
from store import Store
from store.api import open_configured_store
from store.clock import Clock, system_clock

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def advise_fleet(cfg: HeadroomConfig, fmt: str = "text", clock: Clock = system_clock) -> int:
    """0 when every target was reviewed, 1 when one could not be reached (its reason is printed)."""
    now = clock()
    today = day_of(now)
    store: Store | None = None
    try:
        store = open_configured_store(cfg, migrate=False)
        if store.schema_revision() is None:
            store.close()
            store = None
    except Exception as exc:  # findings are still worth printing without a store
        click.echo(
            mask(
                f"advise: store unavailable ({type(exc).__name__}): findings are not recorded and "
                "checks that compare two runs (checkpoints) wait for a store"
            ),
            err=True,
        )
        store = None
    results: list[AdvisorResult] = []
    try:
        for target in cfg.targets:
            before = load_state(store, target.name) if store is not None else AdvisorState()
            result = advise_target(target, before.counters, today)
            if store is not None:
                save_result(store, result, before, int(now))
            results.append(result)
    finally:
        if store is not None:
            store.close()
    click.echo(mask(render_json(results) if fmt == "json" else render_text(results)), nl=False)
    return 1 if any(r.error for r in results) else 0


def _sorted(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.check, f.subject))


def render_text(results: list[AdvisorResult]) -> str:
    out: list[str] = []
    for r in results:
        if r.error is not None:
            out.append(f"{r.target}: not reviewed: {r.error}")
            continue
        out.append(f"{r.target} ({r.flavour} {r.version}): {len(r.findings)} finding(s)")
        for f in _sorted(r.findings):
            out.append(f"  [{f.severity}] {f.check}: {f.finding}")
            out.append(f"      fix: {f.fix}")
            out.append(f"      see: {f.doc}")
        for s in r.skipped:
            out.append(f"  [skipped] {s.check}: {s.reason}")
    return "\n".join(out) + "\n"


def render_json(results: list[AdvisorResult]) -> str:
    doc = [
        {
            "target": r.target,
            "engine": r.flavour,
            "version": r.version,
            "error": r.error,
            "findings": [
                {
                    "check": f.check,
                    "severity": f.severity,
                    "area": f.area,
                    "title": f.title,
                    "subject": f.subject,
                    "finding": f.finding,
                    "fix": f.fix,
                    "doc": f.doc,
                }
                for f in _sorted(r.findings)
            ],
            "skipped": [{"check": s.check, "reason": s.reason} for s in r.skipped],
        }
        for r in results
    ]
    return json.dumps(doc, indent=2) + "\n"
