"""Headroom dashboard entry point: sign-in, shared sidebar, navigation over ``app_pages/``.

Run with ``headroom dashboard`` (which passes the store URL in ``HEADROOM_STORE_URL``).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from sqlalchemy.exc import DBAPIError

from dashboard import context, data
from dashboard import format as fmt
from headroom_core.redact import redact_shown

PAGES_DIR = Path(__file__).parent / "app_pages"

PAGES = [
    ("fleet.py", "Fleet overview", ":material/dashboard:", "fleet"),
    ("instance.py", "Instance", ":material/monitor_heart:", "instance"),
    ("activity.py", "Activity", ":material/bolt:", "activity"),
    ("queries.py", "Queries", ":material/query_stats:", "queries"),
    ("storage.py", "Storage & growth", ":material/storage:", "storage"),
    ("vacuum.py", "Vacuum & wraparound", ":material/cleaning_services:", "vacuum"),
    ("innodb.py", "InnoDB", ":material/memory:", "innodb"),
    ("replication.py", "Replication", ":material/sync_alt:", "replication"),
    ("indexes.py", "Indexes", ":material/account_tree:", "indexes"),
    ("advisors.py", "Advisors", ":material/fact_check:", "advisors"),
    ("capacity.py", "Capacity", ":material/trending_up:", "capacity"),
    ("alerts.py", "Alerts", ":material/notifications:", "alerts"),
    ("targets.py", "Targets & collectors", ":material/settings_input_component:", "targets"),
]


def _demo_banner() -> None:
    """Generated demo history is never passed off as measured data: every page says so."""
    marker = data.demo_history()
    if marker:
        start, end = fmt.fmt_ts(int(marker["start"])), fmt.fmt_ts(int(marker["end"]))
        st.info(
            f"Demo store: the samples from {start} to {end} are **generated demo history**, not measured data; "
            "everything after that was really collected from the demo servers.",
            icon=":material/science:",
        )


def _access_denied(email: str | None, reason: str) -> None:
    """The page a signed-in user who may not see the fleet gets: who they are, why, what to do."""
    st.title("Headroom")
    st.error("Access denied: this account may not see this dashboard.", icon=":material/block:")
    st.text(f"Signed in as: {email or 'an account without an e-mail address'}\nReason: {reason}.")
    st.write(
        "Ask whoever runs Headroom to add your address (`dashboard.auth.allowed_emails`) or your domain "
        "(`dashboard.auth.allowed_domains`), or sign in with another account."
    )
    st.button("Sign out", on_click=st.logout)
    st.stop()


def main() -> None:
    st.set_page_config(page_title="Headroom", page_icon=":material/database:", layout="wide")
    try:
        cfg = data.dashboard_config()
    except Exception as exc:  # a malformed dashboard section: say which field, never the values
        st.error(f"Invalid `dashboard:` section in the configuration: {exc.__class__.__name__}")
        st.stop()
    # fail closed: without a signed-in user (or without Streamlit's auth set up) nothing is shown
    if cfg.auth_enabled and not bool(getattr(st.user, "is_logged_in", False)):
        st.title("Headroom")
        st.write("Sign in to see the fleet.")
        st.button("Sign in", on_click=st.login, type="primary")
        st.stop()
    if cfg.auth_enabled:
        email, email_verified = context.signed_in_user()
        reason = cfg.refusal(email, email_verified)
        if reason is not None:
            _access_denied(email, reason)

    pages = [
        st.Page(str(PAGES_DIR / file), title=title, icon=icon, url_path=path, default=(i == 0))
        for i, (file, title, icon, path) in enumerate(PAGES)
    ]
    nav = st.navigation(pages)
    st.sidebar.markdown("### Headroom")
    try:
        context.build_sidebar()
    except data.StoreNotConfigured as exc:
        st.error(str(exc))
        st.stop()
    except DBAPIError as exc:  # the store is down or refuses us: say so, without any secret
        data.get_store.clear()
        st.error(
            f"The metrics store is unreachable: {redact_shown(str(exc.orig or exc).splitlines()[0])}. "
            "Check that it is running and that `store.url` is right; this page retries on reload."
        )
        st.stop()
    _demo_banner()
    if cfg.auth_enabled:
        st.sidebar.caption(f"Signed in as {st.user.get('email') or st.user.get('name') or 'user'}")
        st.sidebar.button("Sign out", on_click=st.logout)
    nav.run()


main()
