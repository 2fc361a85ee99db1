"""Sign-in authorises: only allowed domains/addresses see the fleet, admin rights need a verified e-mail,
weak cookie secrets are refused; deep links are untrusted input; production pages show no traceback."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from streamlit.testing.v1 import AppTest

from dashboard.config import DashboardConfig
from dashboard.launch import streamlit_command
from tests.dashboard.conftest import APP, clear_streamlit_caches, rendered_bytes, run_page

COOKIE = "c" * 32


def auth(**extra: Any) -> dict[str, Any]:
    return {
        "server_metadata_url": "https://idp.example/.well-known/openid-configuration",
        "client_id": "headroom",
        "client_secret": "oidc-client-secret-access",
        "cookie_secret": COOKIE,
        "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
        **extra,
    }


@pytest.fixture
def signed_in(synthetic_store: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Runs the app with the policy the launcher hands over, as `user` (the claims st.user gives)."""
    cfg = DashboardConfig.model_validate(
        {
            "auth": auth(allowed_domains=["example.com"], allowed_emails=["contractor@partner.test"]),
            "admins": ["alice@example.com"],
        }
    )
    monkeypatch.setenv("HEADROOM_DASHBOARD", cfg.policy().to_json())

    def run(user: dict[str, Any], page: str = "fleet") -> AppTest:
        at = AppTest.from_file(APP, default_timeout=60)
        at.user = {"is_logged_in": True, **user}
        at.query_params["target"] = "db-000"
        at.run()
        if page != "fleet" and not at.exception:
            at.switch_page(f"app_pages/{page}.py")
            at.run()
        return at

    return run


def denied(at: AppTest) -> bool:
    return any("Access denied" in e.value for e in at.error)


def test_allowed_domain_and_address_see_the_fleet(signed_in: Any) -> None:
    for email in ("bob@example.com", "Contractor@Partner.test"):
        at = signed_in({"email": email, "email_verified": True})
        assert not at.exception and not denied(at), email
        assert at.dataframe or at.metric, email
        assert b"db-000" in rendered_bytes(at)


@pytest.mark.parametrize(
    "user",
    [
        {"email": "mallory@evil.test", "email_verified": True},
        {"email": "bob@example.com.evil.test", "email_verified": True},
        {"email": "bob@sub.example.com", "email_verified": True},
        {"email": "bob@example.com", "email_verified": False},  # anyone can type an address they do not own
        {"email": "bob@example.com"},
        {"name": "no e-mail at all"},
    ],
)
def test_everyone_else_gets_a_clear_refusal_and_nothing_of_the_fleet(
    signed_in: Any, user: dict[str, Any]
) -> None:
    at = signed_in(user)
    assert not at.exception
    assert denied(at)
    assert [b.label for b in at.button] == ["Sign out"]
    assert any("allowed_emails" in m.value for m in at.markdown)
    assert not at.dataframe and not at.metric and not at.get("vega_lite_chart")
    blob = rendered_bytes(at)
    assert b"db-00" not in blob  # no target name, no data
    assert b"partner.test" not in blob and b"alice@" not in blob  # nor who is allowed


def test_admin_rights_need_a_verified_email(
    signed_in: Any, synthetic_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = signed_in({"email": "alice@example.com", "email_verified": True}, page="alerts")
    assert not at.exception and at.text_input(key="sil_matchers") is not None  # the silence form
    cfg = DashboardConfig.model_validate(
        {
            "auth": auth(allowed_domains=["example.com"], require_verified_email=False),
            "admins": ["alice@example.com"],
        }
    )
    monkeypatch.setenv("HEADROOM_DASHBOARD", cfg.policy().to_json())
    clear_streamlit_caches()  # the running app reads its policy once
    for claim in ({"email_verified": False}, {}, {"email_verified": "false"}):
        at = signed_in({"email": "alice@example.com", **claim}, page="alerts")
        assert not at.exception and not denied(at)  # may look (require_verified_email: false) ...
        assert not [t for t in at.text_input if t.key == "sil_matchers"]  # ... but not silence anything
        assert any("Read-only" in c.value for c in at.caption)
    at = signed_in(
        {"email": "alice@example.com", "email_verified": "true"}, page="alerts"
    )  # Cognito's string form
    assert [t for t in at.text_input if t.key == "sil_matchers"]


def test_auth_configuration_errors() -> None:
    with pytest.raises(ValidationError, match="cookie_secret: the cookie secret must be at least 32 bytes"):
        DashboardConfig.model_validate(
            {"auth": auth(cookie_secret="c" * 31, allowed_domains=["example.com"])}
        )
    with pytest.raises(ValidationError, match="say who may see the dashboard"):
        DashboardConfig.model_validate({"auth": auth()})
    with pytest.raises(ValidationError, match="is not an e-mail domain"):
        DashboardConfig.model_validate({"auth": auth(allowed_domains=["bob@example.com"])})
    cfg = DashboardConfig.model_validate(
        {"auth": auth(cookie_secret="é" * 16, allowed_emails=["A@Example.com"])}
    )
    assert cfg.policy().allowed_emails == ("a@example.com",)  # 16 two-byte characters: 32 bytes


def test_cookie_secret_file_too_short_names_the_file_option(tmp_path: Path) -> None:
    from headroom.config import ConfigError, load_config

    (tmp_path / "cookie").write_text("short-cookie-secret\n")
    (tmp_path / "headroom.yaml").write_text(
        "dashboard:\n  auth:\n    server_metadata_url: https://idp.example/x\n    client_id: h\n"
        "    client_secret: oidc-client-secret-access\n"
        f"    cookie_secret_file: {tmp_path / 'cookie'}\n"
        "    redirect_uri: https://h.example/oauth2callback\n    allowed_domains: [example.com]\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "headroom.yaml", env={})
    [message] = info.value.messages
    assert message.startswith(f"{tmp_path / 'headroom.yaml'}:") and "cookie_secret_file" in message
    assert "at least 32 bytes" in message and "short-cookie-secret" not in message


@pytest.mark.parametrize(
    "bad",
    [
        "1..99999999999999999999",
        "99999999999999999999..99999999999999999999",
        "0..1",
        "abc",
        "..",
        "2020-01-01..9999-12-31",
        "-5..5",
        "1" * 5000,
        "2024-13-45..2024-14-01",
        "24h..",
        "\x00",
    ],
)
def test_a_hostile_range_in_a_deep_link_is_refused_not_crashing(synthetic_store: Any, bad: str) -> None:
    at = run_page("fleet", {"target": "db-000", "range": bad})
    assert not at.exception, [e.value for e in at.exception]
    assert any("time range" in e.value for e in at.error), [e.value for e in at.error]
    at.switch_page("app_pages/instance.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.get("vega_lite_chart")) >= 1  # the session goes on, on a valid range


def test_production_server_hides_error_details() -> None:
    cmd = streamlit_command(8501, "127.0.0.1")
    assert cmd[cmd.index("--client.showErrorDetails") + 1] == "type"


def test_an_unexpected_error_shows_no_traceback_in_the_browser(
    synthetic_store_url: str, tmp_path: Path, need_binary: Any
) -> None:
    """`headroom dashboard` on a store the pages cannot read (a target's labels are not JSON): the browser
    shows that something failed and its type, never the traceback with code paths and values."""
    chromium = need_binary("chromium", "chromium")
    from playwright.sync_api import sync_playwright

    from tests.dashboard.test_browser import CHROMIUM_ARGS, headroom_dashboard

    broken = tmp_path / "broken.db"
    broken.write_bytes(Path(synthetic_store_url.removeprefix("sqlite:///")).read_bytes())
    with sqlite3.connect(broken) as conn:
        conn.execute("UPDATE targets SET labels_json = 'not json {' WHERE name = 'db-000'")
    with headroom_dashboard(f"sqlite:///{broken}", tmp_path) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{base}/?range=24h", wait_until="domcontentloaded")
        page.locator('[data-testid="stException"]').first.wait_for(timeout=60_000)
        text = page.inner_text("body")
        browser.close()
    assert "JSONDecodeError" in text
    assert "Traceback" not in text and "queries.py" not in text and "not json {" not in text
