"""docs/configuration.md lists every configuration option exactly as the models define it."""

from __future__ import annotations

from pathlib import Path

from headroom.init_template import DOCS_END, DOCS_START, iter_options, options_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_option_table_is_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    generated = text[text.index(DOCS_START) + len(DOCS_START) : text.index(DOCS_END)].strip()
    assert generated == options_markdown().strip(), (
        "docs/configuration.md is out of date: run `python -m headroom.init_template docs/configuration.md`"
    )


def test_every_section_and_target_option_is_in_the_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    paths = {opt.path for opt in iter_options()}
    for expected in ("store.url", "store.password_file", "targets[].dsn", "targets[].password_file",
                     "targets[].capacity.disk_bytes", "targets[].metrics.NAME.interval", "collector.spool_max_bytes",
                     "prometheus.url", "prometheus.password_file"):
        assert expected in paths
        assert f"| `{expected}` |" in text
