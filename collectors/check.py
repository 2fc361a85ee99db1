"""``headroom check``: can Headroom collect this target, and what is missing (with the exact fix)?

Dispatches on ``target.engine``: the engine connects, reports version and role, checks every
requirement of the target's metrics and runs each metric once; missing extensions and privileges
come back with the exact statement to run.
"""

from __future__ import annotations

import asyncio

from collectors.batch import Batch
from collectors.config import TargetConfig
from collectors.engines import create_engine
from collectors.engines.base import CheckItem, CheckResult, ConnectionLost, EngineError, MissingFeature
from collectors.runner import TargetRunner
from collectors.runtime import CollectorSettings
from collectors.scheduler import scheduled_metrics


async def check_target_async(target: TargetConfig, settings: CollectorSettings | None = None) -> CheckResult:
    settings = settings or CollectorSettings()
    timeout = float(target.statement_timeout)
    engine = create_engine(target, statement_timeout=timeout)
    result = CheckResult(target=target.name, engine=target.engine, reachable=False)
    sink = Batch()
    runner = TargetRunner(target, scheduled_metrics(target), settings, sink.extend, engine=engine)
    try:
        try:
            await asyncio.wait_for(engine.connect(), timeout + 5)
            info = await engine.server_info()
        except (EngineError, TimeoutError, OSError) as exc:
            result.error = str(exc) or type(exc).__name__
            return result
        result.reachable = True
        result.version = info.version_str
        result.role = info.role
        runner.info = info
        runner.connected = True
        for sm in runner.metrics:
            mdef = sm.definition
            if mdef.role != "any" and mdef.role != info.role:
                result.items.append(CheckItem(mdef.name, True, f"skipped on a {info.role}"))
                continue
            first = None if mdef.python else mdef.min_version(info.flavour)
            if first is not None and info.version_num < first:
                result.items.append(CheckItem(mdef.name, True, f"skipped: needs version {first} or later"))
                continue
            missing: MissingFeature | None = None
            for req in mdef.requires:
                missing = await engine.check_requirement(req)
                if missing is not None:
                    break
            if missing is not None:
                result.items.append(CheckItem(mdef.name, False, str(missing), missing.fix))
                continue
            before = len(sink.events)
            try:
                ok = await runner.poll(sm)
            except ConnectionLost as exc:
                result.items.append(CheckItem(mdef.name, False, f"connection lost: {exc}"))
                break
            feature = runner.features.skipped(mdef.name, 0.0)
            if feature is not None:
                result.items.append(CheckItem(mdef.name, False, str(feature), feature.fix))
            elif ok is False:
                errors = [e.message for e in sink.events[before:] if e.kind == "collector_error"]
                result.items.append(CheckItem(mdef.name, False, errors[0] if errors else "failed"))
            else:
                result.items.append(CheckItem(mdef.name, True))
        return result
    finally:
        await engine.close()


def check_target(target: TargetConfig, settings: CollectorSettings | None = None) -> CheckResult:
    """Blocking wrapper for the CLI."""
    return asyncio.run(check_target_async(target, settings))


def format_check(result: CheckResult) -> str:
    """Human-readable report (what ``headroom check`` prints)."""
    lines = [
        f"{result.target} ({result.engine}): "
        + (
            f"reachable, {result.version}, {result.role}"
            if result.reachable
            else f"UNREACHABLE: {result.error}"
        )
    ]
    for item in result.items:
        if not item.ok:
            lines.append(f"  {item.metric}: {item.message}")
    if result.fixes:
        lines.append("  to fix, run:")
        lines.extend(f"    {fix}" for fix in result.fixes)
    elif result.reachable:
        lines.append(f"  all {len(result.items)} metrics OK")
    return "\n".join(lines)
