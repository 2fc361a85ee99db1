"""``headroom report --section indexes``: the stored advice, as the real command prints it."""

from __future__ import annotations

from pathlib import Path

from store import open_store
from store.plans import Advice
from tests.headroom.test_cli import run_cli

DDL = 'CREATE INDEX CONCURRENTLY "ix_big_customer" ON "public"."big" ("customer");'


def test_report_section_indexes_prints_the_advice(tmp_path: Path) -> None:
    st = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    st.ensure_target("shop", "postgres")
    st.ensure_target("quiet", "postgres")
    st.replace_index_advice(
        "shop",
        1_800_000_000,
        [
            Advice(
                "shop",
                "public.big",
                ("customer",),
                DDL,
                "hypopg",
                18_334.0,
                8.46,
                0.93,
                22_020_096.0,
                1.5,
                {
                    "schema": "public",
                    "rows": 1e6,
                    "notes": [
                        "existing index ix_old (customer) is a prefix of this one: the new index makes it redundant"
                    ],
                    "statements": [
                        {
                            "queryid": "-6898",
                            "share": 0.93,
                            "text": "SELECT id, note FROM big\n WHERE customer = $1",
                        }
                    ],
                },
            )
        ],
    )
    st.close()
    (tmp_path / "headroom.yaml").write_text("store: {url: 'sqlite:///m.db'}\n", encoding="utf-8")
    done = run_cli("report", "--section", "indexes", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "# Suggested indexes",
        "",
        "## shop",
        "",
        "- public.big (customer) · database shop",
        f"  {DDL}",
        "  cost reduction 2,167× (hypopg (hypothetical index)); share of statement time 93.0 %; "
        "estimated size 22 MB; writes on the table 1.5 rows/s",
        "  helps -6898 (93.0 % of time): SELECT id, note FROM big WHERE customer = $1",
        "  note: existing index ix_old (customer) is a prefix of this one: the new index makes it redundant",
    ]
    empty = run_cli("report", cwd=tmp_path)
    assert empty.returncode != 0 and "--out FILE is required" in empty.stderr
