"""The README's quickstart is two commands: `make demo` and `make test` install the Debian packages they
need (one list, scripts/install-debian-packages, also used by .ci/run), then set up the virtualenv.

The script's decisions (what is missing, sudo when not root, what it says) are checked by running it
with `dpkg-query`, `apt-get`, `id` and `sudo` replaced on PATH by recorders: a test must not install
packages on the machine. The real install is what `bash .ci/run` does on a fresh machine."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from testing.servers import mariadb, pgbouncer, postgres, prometheus

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "install-debian-packages"


def _list(group: str) -> list[str]:
    out = subprocess.run([str(SCRIPT), "--list", group], check=True, capture_output=True, text=True).stdout
    return out.split()


def test_one_list_covers_every_server_and_tool() -> None:
    demo, test, ci = _list("demo"), _list("test"), _list("ci")
    assert set(demo) <= set(test) <= set(ci)
    assert {
        "python3-venv",
        postgres.PG_PACKAGE,
        "postgresql-contrib",
        pgbouncer.PGBOUNCER_PACKAGE,  # the demo puts a pgbouncer in front of its PostgreSQL
        mariadb.MARIADB_PACKAGE,
    } <= set(demo)
    servers = {
        prometheus.PROMETHEUS_PACKAGE,
        prometheus.ALERTMANAGER_PACKAGE,
        prometheus.POSTGRES_EXPORTER_PACKAGE,
        prometheus.MYSQLD_EXPORTER_PACKAGE,
    }
    assert servers <= set(test)
    # every package a test names when a binary is missing is on the list
    named = set()
    for path in (ROOT / "tests").rglob("*.py"):
        named |= set(re.findall(r'need_binary\("[^"]+", "([^"]+)"\)', path.read_text(encoding="utf-8")))
    assert named and named <= set(test), named - set(test)
    assert "faketime" in test and "make" in ci


def test_make_targets_and_ci_use_the_script() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target, group in (("test", "test"), ("demo", "demo")):
        recipe = re.search(rf"^{target}: (\S+)\n((?:\t.*\n)+)", makefile, re.M)
        assert recipe is not None, target
        prereq = re.search(
            rf"^{re.escape(recipe.group(1))}:\n\t@scripts/install-debian-packages {group}$", makefile, re.M
        )
        assert prereq is not None, f"make {target} does not install the {group} packages first"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/install-debian-packages ci" in ci and "apt-get" not in ci
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quickstart", 1)[1].split("##", 1)[0]
    block = re.search(r"```bash\n(.*?)```", quick, re.S)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]
    assert "apt-get" not in quick


def _recorders(tmp: Path, installed: set[str], uid: int) -> dict[str, str]:
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    log = tmp / "calls.log"
    scripts = {
        # dpkg-query -W -f='${Status}' PKG
        "dpkg-query": f'for pkg; do :; done; case " {" ".join(sorted(installed))} " in '
        '*" $pkg "*) printf "install ok installed";; *) exit 1;; esac',
        "apt-get": f'echo "apt-get $*" >> {log}',
        "sudo": f'echo "sudo" >> {log}; "$@"',
        "id": f"echo {uid}",
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin"}


def test_nothing_missing_says_nothing(tmp_path: Path) -> None:
    env = _recorders(tmp_path, set(_list("test")), uid=1000)
    done = subprocess.run([str(SCRIPT), "test"], env=env, capture_output=True, text=True, check=True)
    assert done.stdout == "" and not (tmp_path / "calls.log").exists()


@pytest.mark.parametrize("uid", [0, 1000])
def test_installs_only_the_missing_with_sudo_when_not_root(tmp_path: Path, uid: int) -> None:
    wanted = _list("demo")
    installed = set(wanted) - {"mariadb-server", "postgresql-contrib"}
    env = _recorders(tmp_path, installed, uid=uid)
    done = subprocess.run([str(SCRIPT), "demo"], env=env, capture_output=True, text=True, check=True)
    order = [p for p in wanted if p not in installed]  # in the list's order
    sudo = " (with sudo)" if uid else ""
    assert done.stdout.splitlines()[0] == f"installing Debian packages: {' '.join(order)}{sudo}"
    calls = (tmp_path / "calls.log").read_text().splitlines()
    install = f"apt-get install -y --no-install-recommends {' '.join(order)}"
    if uid:
        assert calls == ["sudo", "apt-get update", "sudo", install]
    else:
        assert calls == ["apt-get update", install]
