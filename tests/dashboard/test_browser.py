"""A real browser (system Chromium through Playwright) on every page of a running dashboard server."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from dashboard.navigation import SINGLE_TARGET_PAGES
from tests.dashboard.conftest import PAGES, REPO

SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
PAGES_WITH_CHARTS = {"instance", "activity", "queries", "storage", "vacuum", "replication", "capacity"}
SCRIPT_DONE = (
    "() => document.querySelector('[data-testid=\"stApp\"]')"
    "?.getAttribute('data-test-script-state') === 'notRunning'"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"dashboard at {base} not healthy after {timeout} s")


@contextlib.contextmanager
def headroom_dashboard(store_url: str, workdir: Path) -> Iterator[str]:
    """`headroom dashboard` on a store, as a user starts it; yields its base URL."""
    cfg = workdir / "headroom.yaml"
    cfg.write_text(f"store: {{url: '{store_url}'}}\ntargets: []\n")
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "headroom",
            "--config",
            str(cfg),
            "dashboard",
            "--port",
            str(port),
            "--address",
            "127.0.0.1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=str(REPO),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    # the Streamlit server went away with `headroom dashboard`
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{base}/_stcore/health", timeout=2)


@pytest.fixture(scope="module")
def dashboard_server(synthetic_store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with headroom_dashboard(synthetic_store_url, tmp_path_factory.mktemp("dash-cfg")) as base:
        yield base


def wait_page_settled(page: object, expect_chart: bool, timeout_ms: int = 30_000) -> None:
    pg: object = page
    pg.wait_for_selector('[data-testid="stMain"]', timeout=timeout_ms)  # type: ignore[attr-defined]
    if expect_chart:
        pg.wait_for_selector(
            '[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg',  # type: ignore[attr-defined]
            timeout=timeout_ms,
        )
    else:
        pg.wait_for_selector("h1", timeout=timeout_ms)  # type: ignore[attr-defined]
    # the run is over when the app says its script is not running any more
    pg.wait_for_function(SCRIPT_DONE, timeout=timeout_ms)  # type: ignore[attr-defined]
    pg.wait_for_timeout(500)  # type: ignore[attr-defined]


def visit_every_page(
    base: str,
    chromium: str,
    target: str,
    folder: Path,
    with_charts: set[str] = PAGES_WITH_CHARTS,
    pages: Sequence[str] = tuple(PAGES),
) -> None:
    from playwright.sync_api import sync_playwright

    folder.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = ctx.new_page()
            for name in pages:
                path = "" if name == "fleet" else name  # the default page lives at /
                page.goto(f"{base}/{path}?target={target}&range=24h", wait_until="domcontentloaded")
                wait_page_settled(page, name in with_charts)
                assert page.locator('[data-testid="stException"]').count() == 0, name
                if name in with_charts:
                    assert page.locator('[data-testid="stVegaLiteChart"]').count() >= 1, name
                title = page.locator("h1").first.inner_text()
                assert title.split(" · ")[0] in {
                    "Fleet overview",
                    "Instance",
                    "Server",
                    "Activity",
                    "Queries",
                    "Storage & growth",
                    "Vacuum & wraparound",
                    "InnoDB",
                    "Replication",
                    "PgBouncer",
                    "Indexes",
                    "Advisors",
                    "Capacity",
                    "Alerts",
                    "Targets & collectors",
                }, title
                # the deep link survives: the URL still names the target and the range
                assert f"target={target}" in page.url and "range=24h" in page.url, page.url
                shot = folder / f"{name}.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 10_000
        finally:
            browser.close()


def test_every_page_in_chromium(dashboard_server: str, need_binary: Callable[[str, str], str]) -> None:
    visit_every_page(dashboard_server, need_binary("chromium", "chromium"), "db-000", SCREENSHOTS)


def test_an_alert_link_opens_its_page_in_chromium(
    dashboard_server: str, need_binary: Callable[[str, str], str]
) -> None:
    """`/?page=NAME&...` (the links in alert notifications) lands on that page, the address bar its link."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=need_binary("chromium", "chromium"), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            for name, title in (("alerts", "Alerts"), ("pgbouncer", "PgBouncer")):
                page.goto(
                    f"{dashboard_server}/?page={name}&target=db-001&range=24h", wait_until="domcontentloaded"
                )
                page.wait_for_function(
                    f"() => document.querySelector('[data-testid=\"stMain\"] h1')?.innerText === '{title}'",
                    timeout=60_000,
                )
                wait_page_settled(page, expect_chart=False)
                assert page.locator('[data-testid="stException"]').count() == 0, name
                assert f"/{name}?" in page.url and "target=db-001" in page.url and "page=" not in page.url
        finally:
            browser.close()


def test_every_page_in_chromium_on_collected_store(
    collected: dict[str, object], tmp_path: Path, need_binary: Callable[[str, str], str]
) -> None:
    """The same visit on a store filled by collecting the PostgreSQL and MariaDB fixtures."""
    chromium = need_binary("chromium", "chromium")
    with headroom_dashboard(str(collected["url"]), tmp_path) as base:
        # two collection rounds: no forecasts (Capacity) and no statement deltas yet (Queries)
        visit_every_page(
            base,
            chromium,
            "pg-primary",
            SCREENSHOTS / "collected",
            with_charts={"instance", "server", "storage", "vacuum", "replication"},
        )
        # the MySQL-only page with the data collected from MariaDB
        visit_every_page(
            base,
            chromium,
            "maria-primary",
            SCREENSHOTS / "collected" / "maria-primary",
            with_charts={"instance", "innodb"},
            pages=["instance", "innodb", "queries"],
        )


@pytest.mark.slow
def test_every_page_for_every_target_in_chromium_on_a_fully_populated_store(
    full_store_url: str, tmp_path: Path, need_binary: Callable[[str, str], str]
) -> None:
    """Channel health with failures, silences, forecasts of every status, a standby that stopped
    streaming: every page opens for every target without an exception element."""
    from testing.synthetic_full import BOUNCER, MYSQL, OTHER_PG, PRIMARY, STANDBY

    chromium = need_binary("chromium", "chromium")
    with headroom_dashboard(full_store_url, tmp_path) as base:
        for target in (PRIMARY, STANDBY, OTHER_PG, MYSQL, BOUNCER):
            charts = {*PAGES_WITH_CHARTS, "pgbouncer"} - (
                {"queries", "activity"} if target == MYSQL else set()
            )
            charts |= {"innodb"} if target == MYSQL else {"server"}  # engine-specific statistics
            if target == BOUNCER:  # its own page; the database pages say it is no database server
                charts = {"pgbouncer"}
            # the fleet-wide pages once, the single-target pages for every target
            pages = PAGES if target == PRIMARY else [p for p in PAGES if p in SINGLE_TARGET_PAGES]
            if target == BOUNCER:
                pages = [*pages, "pgbouncer"]
            visit_every_page(
                base, chromium, target, SCREENSHOTS / "full" / target, with_charts=charts, pages=pages
            )


def test_sign_in_gate_in_the_browser(
    synthetic_store_url: str, need_binary: Callable[[str, str], str]
) -> None:
    """With `dashboard.auth`, a real server shows only the sign-in screen, whatever the deep link."""
    chromium = need_binary("chromium", "chromium")
    from playwright.sync_api import sync_playwright

    from dashboard.config import DashboardConfig
    from dashboard.launch import start_dashboard

    cfg = DashboardConfig.model_validate(
        {
            "auth": {
                "server_metadata_url": "https://idp.example/.well-known/openid-configuration",
                "client_id": "headroom",
                "client_secret": "oidc-secret-in-browser",
                "cookie_secret": "cookie-secret-in-browser-32-bytes-long",
                "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
                "allowed_domains": ["example.com"],
            }
        }
    )
    port = _free_port()
    server = start_dashboard(None, port=port, store_url=synthetic_store_url, dashboard=cfg, quiet=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.goto(f"{base}/instance?target=db-000&range=24h", wait_until="domcontentloaded")
                page.get_by_role("button", name="Sign in").wait_for(timeout=30_000)
                wait_page_settled(page, expect_chart=False)
                assert page.locator('[data-testid="stMetric"]').count() == 0
                assert page.locator('[data-testid="stSidebarNav"]').count() == 0
                html = page.content()
                assert "db-000" not in page.inner_text("body")
                assert "oidc-secret-in-browser" not in html and "cookie-secret-in-browser" not in html
            finally:
                browser.close()
    finally:
        server.stop()
