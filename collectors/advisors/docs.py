"""docs/advisors.md, generated from the catalogue: ``python -m collectors.advisors.docs [PATH]``."""

from __future__ import annotations

import sys
from pathlib import Path

from collectors.advisors.facts import MY_ACCOUNTS
from collectors.advisors.releases import BRANCHES, RECORDED
from collectors.advisors.run import CATALOGUE

HEADER = """# Advisors

`headroom check --advise` reviews each target's configuration and security with the checks below and
prints what it finds, with the evidence (the values that triggered it) and the exact fix; `--format json`
gives the same as JSON. Each run stores its findings: a finding that appears is an `advisor_finding`
event, one that goes away an `advisor_cleared` event, so a change shows on the charts and in the events
list. The collector runs the same checks itself, every `collector.advise_every` (default 6 hours; the
first run 5 minutes after it starts; 0 turns it off), so the Advisors page stays current without cron.
Checks that compare counters (checkpoints, pg_stat_statements evictions) measure the window between two
runs.

The data each check reads and says is in `collectors/advisors/definitions/{postgres,mysql}.yaml`; its
`evaluate:` names the one function that judges the facts. Memory (`capacity.memory_bytes`), the data
volume's size (`capacity.disk_bytes`) and its kind (`capacity.storage`: ssd or hdd) come from the
target's configuration: the checks that need them stay quiet when they are not set.

Checks read only what the monitoring role can see. A check whose data the role cannot read is skipped
and says which grant it needs; it never guesses. The account checks of MySQL/MariaDB need
`GRANT SELECT ON mysql.user TO <monitoring user>` (opt-in: that table holds password hashes). Per-table
checks of PostgreSQL read the 20 largest databases.

This page is generated from the catalogue (`python -m collectors.advisors.docs`); a test checks that it
is up to date.

## The "good" configuration

None of the checks fires on the servers the test suite starts (a test asserts it): PostgreSQL with its
defaults, `track_io_timing = on`, `idle_in_transaction_session_timeout = 60s`, `password_encryption = scram-sha-256`, listening on 127.0.0.1 only,
a `pg_monitor` monitoring role and no superuser but the bootstrap one; MariaDB with its defaults,
`performance_schema = ON`, `local_infile = OFF`, no anonymous or password-less accounts and data far
smaller than the buffer pool.
"""


def render() -> str:
    lines = [HEADER]
    for area in ("configuration", "security"):
        lines.append(f"## {area.capitalize()} checks\n")
        lines.append("| id | engines | severity | what | reads | fix | reference |")
        lines.append("|---|---|---|---|---|---|---|")
        for c in CATALOGUE:
            if c.area != area:
                continue
            versions = ""
            if c.min_version or c.max_version:
                versions = f" (versions {c.min_version or ''}–{c.max_version or ''})"
            lines.append(
                f"| `{c.id}` | {', '.join(c.engines)}{versions} | {c.severity} | {c.title} | "
                f"{', '.join(c.reads)} | `{c.fix}` | [docs]({c.doc}) |"
            )
        lines.append("")
    lines.append(f"## Release table (recorded {RECORDED})\n")
    lines.append(
        "End of life and a minor release known to be out, per branch. A stale table under-reports; "
        "a branch that is not listed is never flagged.\n"
    )
    lines.append("| engine | branch | end of life | minor release known to be out |")
    lines.append("|---|---|---|---|")
    for b in BRANCHES:
        lines.append(f"| {b.flavour} | {b.branch} | {b.end_of_life} | {b.minor_floor or '—'} |")
    lines.append("")
    lines.append("## The account query (MySQL/MariaDB)\n")
    lines.append("```sql\n" + MY_ACCOUNTS.strip() + "\n```\n")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else Path(__file__).resolve().parents[2] / "docs" / "advisors.md"
    path.write_text(render(), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
