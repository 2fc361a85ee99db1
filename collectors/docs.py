"""Generate docs/metrics.md from the metric definitions: ``python -m collectors.docs [PATH]``.

A test fails when the committed file differs from what this renders."""

from __future__ import annotations

import sys
from pathlib import Path

from collectors.definitions import MetricDef, definitions
from collectors.presets import PRESET_NAMES, presets

ENGINES = ("postgres", "mysql", "pgbouncer")
DEFAULT_PATH = Path(__file__).resolve().parent.parent / "docs" / "metrics.md"


def _fmt_interval(seconds: float) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _series(d: MetricDef) -> list[str]:
    return sorted(d.produced_names())


def render() -> str:
    out = [
        "# Metrics reference",
        "",
        "Generated from `collectors/metrics/*/*.yaml` by `python -m collectors.docs` — do not edit by hand.",
        "Counters are stored as per-second rates (names ending in `_rate`): the first poll only seeds, and",
        "an interval in which a counter went down (a statistics reset, a restart, an evicted entry) is dropped,",
        "as is one in which the server reports a statistics reset. Cache hit ratios (`*_hit_ratio`) are computed",
        "from the counters' deltas of each interval, never since a reset. A `stats_reset` event is written only",
        "when the server says it reset its statistics (`stats_reset` of pg_stat_database, pg_stat_bgwriter /",
        "pg_stat_checkpointer, pg_stat_archiver, pg_stat_wal, pg_stat_statements_info).",
        "Every target also gets `up`, `headroom_scrape_success{metric}` and",
        "`headroom_scrape_duration_seconds{metric}`.",
        "",
    ]
    for engine in ENGINES:
        defs = definitions(engine)
        if not defs:
            continue
        table = presets(engine)
        out += [
            f"## {engine}",
            "",
            "| metric | interval | presets | scope | role | requires | series (labels) |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, d in sorted(defs.items()):
            in_presets = ", ".join(p for p in PRESET_NAMES if name in table[p])
            requires = ", ".join(f"{r.kind} {r.name}" for r in d.requires) or ""
            labels = ",".join(d.tags)
            if d.scope == "database" and "datname" not in d.tags:
                labels = ",".join(["datname", *d.tags])
            series = "<br>".join(f"`{s}`" + (f"{{{labels}}}" if labels else "") for s in _series(d))
            out.append(
                f"| **{name}** | {_fmt_interval(d.interval)} | {in_presets} | {d.scope} | {d.role} | {requires} | "
                f"{series} |"
            )
        out.append("")
        for name, d in sorted(defs.items()):
            versions = ", ".join(f"{fl} ≥ {min(v)}" for fl, v in sorted(d.sql.items())) or "python"
            out.append(f"- **{name}** ({versions}): {d.description}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else DEFAULT_PATH
    path.write_text(render())
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
