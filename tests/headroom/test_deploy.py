"""docker-compose.yml, the Dockerfile, the compose support files and the systemd units hold together:
every file they mount exists, every secret is defined and created by make-secrets.sh, the Headroom
configuration they mount validates, Prometheus accepts its configuration (promtool)."""

from __future__ import annotations

import configparser
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from headroom.config import load_config

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


def _compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(doc, dict)
    return doc


def test_compose_has_the_whole_stack() -> None:
    services = _compose()["services"]
    assert set(services) == {
        "store",
        "pg-primary",
        "pg-standby",
        "mysql-primary",
        "mysql-replica",
        "postgres-exporter",
        "mysqld-exporter",
        "prometheus",
        "headroom",
    }
    assert services["mysql-primary"]["image"].startswith("mysql:8.4")
    assert services["mysql-replica"]["image"].startswith("mysql:8.4")
    assert services["headroom"]["build"] == "."
    assert services["headroom"]["command"] == ["up"]
    for name, svc in services.items():
        assert "image" in svc or "build" in svc, name
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            if cond.get("condition") == "service_healthy":
                assert "healthcheck" in services[dep], f"{dep} has no healthcheck but {name} waits for it"
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond localhost"


def test_compose_mounts_and_secrets_exist() -> None:
    doc = _compose()
    defined = doc["secrets"]
    volumes = set(doc.get("volumes") or {})
    script = (ROOT / "deploy/compose/make-secrets.sh").read_text()
    for spec in defined.values():
        filename = Path(spec["file"]).name
        assert filename in script, f"make-secrets.sh does not create {filename}"
        assert spec["file"].startswith("./secrets/")
    assert "mysqld-exporter.cnf" in script
    for svc_name, svc in doc["services"].items():
        for secret in svc.get("secrets", []):
            assert secret in defined, f"{svc_name} uses undefined secret {secret}"
        for env_value in (svc.get("environment") or {}).values():
            m = re.match(r"/run/secrets/(\w+)", str(env_value))
            if m:
                assert m.group(1) in svc.get("secrets", []), (
                    f"{svc_name} reads {env_value} without the secret"
                )
        for mount in svc.get("volumes", []):
            source = mount.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).is_file(), f"{svc_name} mounts missing {source}"
            else:
                assert source in volumes, f"{svc_name} uses undeclared volume {source}"
    # the mysql image sources non-executable init scripts (so docker_process_sql is defined)
    for name in ("mysql-primary-init.sh", "mysql-replica-init.sh"):
        mode = (ROOT / "deploy/compose" / name).stat().st_mode
        assert not mode & 0o111, f"{name} must not be executable"


def test_compose_headroom_config_validates(tmp_path: Path) -> None:
    doc = _compose()
    mounted = [
        m for m in doc["services"]["headroom"]["volumes"] if m.endswith(":/etc/headroom/headroom.yaml:ro")
    ]
    assert len(mounted) == 1
    source = ROOT / mounted[0].split(":", 1)[0]
    text = source.read_text()
    secrets_used = set(re.findall(r"/run/secrets/(\w+)", text))
    assert secrets_used <= set(doc["services"]["headroom"]["secrets"])
    for name in secrets_used:
        (tmp_path / name).write_text("s3cret\n")
    local = tmp_path / "headroom.yaml"
    local.write_text(text.replace("/run/secrets/", f"{tmp_path}/"))
    cfg = load_config(local)
    assert [t.name for t in cfg.targets] == ["pg-primary", "pg-standby", "mysql-primary", "mysql-replica"]
    ports = {s: getattr(cfg, s).metrics_port for s in ("collector", "forecasting", "alerts")}
    assert ports == {"collector": 9465, "forecasting": 9466, "alerts": 9467}
    # Prometheus scrapes each process's self-metrics port
    prom = yaml.safe_load((ROOT / "deploy/compose/prometheus.yml").read_text())
    targets = [t for job in prom["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]]
    assert {f"headroom:{p}" for p in ports.values()} <= set(targets)
    for target in targets:
        host = target.split(":")[0]
        assert host in doc["services"], f"prometheus scrapes unknown service {host}"


def test_example_config_validates(tmp_path: Path) -> None:
    text = (ROOT / "deploy/headroom.example.yaml").read_text()
    for path in set(re.findall(r"password_file: (\S+)", text)):
        local = tmp_path / Path(path).name
        local.write_text("pw\n")
        text = text.replace(path, str(local))
    text = text.replace("/var/lib/headroom/data", str(tmp_path))
    cfg_path = tmp_path / "headroom.yaml"
    cfg_path.write_text(text)
    cfg = load_config(cfg_path)
    assert len(cfg.targets) == 2


def test_prometheus_config_is_accepted_by_promtool(need_binary: Any) -> None:
    promtool = need_binary("promtool", "prometheus")
    proc = subprocess.run(
        [promtool, "check", "config", str(ROOT / "deploy/compose/prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_installs_the_project_and_runs_up() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11", text, re.M)
    assert "pip install ." in text
    for package in ("headroom", "store", "collectors", "forecasting", "alerts", "dashboard"):
        assert f"COPY {package} ./{package}" in text, package
    assert 'ENTRYPOINT ["headroom"]' in text and 'CMD ["up"]' in text
    assert re.search(r"^USER headroom$", text, re.M)


def test_systemd_units_parse_and_run_headroom() -> None:
    for unit in ("headroom.service", "headroom-stage@.service"):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read(ROOT / "deploy/systemd" / unit)
        assert parser["Service"]["User"] == "headroom"
        assert parser["Service"]["ExecStart"].startswith("/opt/headroom/bin/headroom ")
        assert parser["Service"]["RestartPreventExitStatus"] == "2"
        assert parser["Install"]["WantedBy"] == "multi-user.target"
