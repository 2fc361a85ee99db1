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
    for expected in (
        "store.url",
        "store.password_file",
        "targets[].dsn",
        "targets[].password_file",
        "targets[].capacity.disk_bytes",
        "targets[].metrics.NAME.interval",
        "collector.spool_max_bytes",
        "prometheus.url",
        "prometheus.password_file",
    ):
        assert expected in paths
        assert f"| `{expected}` |" in text


def test_the_documented_example_is_valid(tmp_path: Path) -> None:
    import pytest

    from headroom.config import ConfigError, load_config

    text = DOC.read_text(encoding="utf-8")
    block = text.split("## A small example", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "headroom.yaml").write_text(block, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "headroom.yaml", env={"SHOP_MYSQL_PW": "x"})
    # the only problems: the secret files of the example do not exist on this machine
    assert info.value.messages and all("cannot read /run/secrets/" in m for m in info.value.messages)
    assert len(info.value.messages) == block.count("password_file: /run/secrets/")
