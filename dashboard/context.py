"""The shared sidebar and the view context every page reads (targets, time range, permissions).

Deep links: ``?target=NAME&range=24h&q=orders&labels=env=prod`` (or ``range=START..END``) on any
page URL; the sidebar starts from them and writes them back, so the address bar is always a link
to the current view.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.config import ViewerPolicy
from dashboard.format import parse_label_filter
from dashboard.timerange import CUSTOM, DEFAULT_RANGE, PRESETS, TimeRange, custom_label, parse_range

_CTX_KEY = "_headroom_ctx"


@dataclass(frozen=True)
class ViewContext:
    all_targets: list[str]  # every target in the store (for colour scales)
    targets: list[str]  # after the name/label filter
    target: str | None  # the selected target (single-target pages)
    engines: dict[str, str]
    labels: dict[str, dict[str, str]]
    time_range: TimeRange
    now: int
    config: ViewerPolicy
    user_email: str | None = None
    filter_error: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    user_email_verified: object = None  # the provider's email_verified claim

    @property
    def can_write(self) -> bool:
        return self.config.can_write(self.user_email, self.user_email_verified)

    def engine_of(self, target: str | None) -> str | None:
        return self.engines.get(target or "")


def current() -> ViewContext:
    ctx = st.session_state.get(_CTX_KEY)
    if ctx is None:  # a page run on its own (tests): build the context without drawing the sidebar twice
        ctx = build_sidebar()
    assert isinstance(ctx, ViewContext)
    return ctx


def _seed_from_query_params() -> None:
    """Deep-link values win once, on the first run of a session."""
    if st.session_state.get("_seeded"):
        return
    qp = st.query_params
    st.session_state["_seeded"] = True
    st.session_state.setdefault("f_name", qp.get("q", ""))
    st.session_state.setdefault("f_labels", qp.get("labels", ""))
    if "target" in qp:
        st.session_state.setdefault("f_target", qp.get("target"))
    for param in ("at", "queryid"):  # a moment to open (Activity), a statement to open (Queries)
        if param in qp:
            st.session_state.setdefault(f"f_{param}", qp.get(param))
    rng = qp.get("range", DEFAULT_RANGE)
    if rng in PRESETS:
        st.session_state.setdefault("f_range", rng)
    else:
        st.session_state.setdefault("f_range", CUSTOM)
        st.session_state.setdefault("f_custom_label", rng)


def _filter_targets(tdf: pd.DataFrame, name_q: str, label_q: str) -> tuple[list[str], str | None]:
    if tdf.empty:
        return [], None
    error = None
    try:
        wanted = parse_label_filter(label_q)
    except ValueError as exc:
        wanted, error = {}, str(exc)
    keep = []
    for name, labels in zip(tdf["name"], tdf["labels"], strict=True):
        if name_q and name_q.lower() not in name.lower():
            continue
        if any(labels.get(k) != v for k, v in wanted.items()):
            continue
        keep.append(name)
    return keep, error


def signed_in_user() -> tuple[str | None, object]:
    """The signed-in user's e-mail address and ``email_verified`` claim ((None, None) when nobody is)."""
    try:
        if getattr(st.user, "is_logged_in", False):
            email = st.user.get("email")
            return (str(email) if email else None), st.user.get("email_verified")
    except Exception:  # st.user without auth configured
        return None, None
    return None, None


def build_sidebar() -> ViewContext:
    cfg = data.dashboard_config()
    now = int(time.time())
    _seed_from_query_params()
    tdf = data.targets()
    sb = st.sidebar
    sb.text_input("Target name contains", key="f_name", placeholder="orders")
    sb.text_input(
        "Labels",
        key="f_labels",
        placeholder="env=prod, team=payments",
        help="key=value pairs separated by commas; all must match",
    )
    selected, filter_error = _filter_targets(
        tdf, st.session_state.get("f_name", ""), st.session_state.get("f_labels", "")
    )
    if filter_error:
        sb.error(filter_error)
    target: str | None = None
    if selected:
        if st.session_state.get("f_target") not in selected:
            st.session_state["f_target"] = selected[0]
        target = sb.selectbox("Target", selected, key="f_target")
    elif not tdf.empty:
        sb.caption("No target matches the filter.")

    options = [*PRESETS, CUSTOM]
    if st.session_state.get("f_range") not in options:
        st.session_state["f_range"] = DEFAULT_RANGE
    choice = sb.selectbox(
        "Time range", options, key="f_range", format_func=lambda k: "Custom…" if k == CUSTOM else f"Last {k}"
    )
    range_text = choice
    if choice == CUSTOM:
        today = datetime.fromtimestamp(
            now, UTC
        ).date()  # the dashboard shows UTC, whatever the machine's zone
        seed = st.session_state.get("f_custom_label")
        try:
            seeded = parse_range(seed, now) if seed else None
        except ValueError as exc:
            sb.error(f"The link's time range was ignored: {exc}")
            st.session_state.pop("f_custom_label", None)
            seeded = None
        default = (
            (datetime.fromtimestamp(seeded.start, UTC).date(), datetime.fromtimestamp(seeded.end, UTC).date())
            if seeded
            else (today - timedelta(days=7), today)
        )
        picked = sb.date_input("From – to (UTC)", value=default, key="f_custom_dates")
        if isinstance(picked, tuple) and len(picked) == 2:
            start = datetime.combine(picked[0], datetime.min.time(), UTC)
            end = datetime.combine(picked[1], datetime.min.time(), UTC) + timedelta(days=1)
            range_text = custom_label(start, end) if seeded is None or picked != default else seeded.label
        else:
            range_text = seeded.label if seeded else DEFAULT_RANGE
    try:
        tr = parse_range(range_text, now)
    except ValueError as exc:
        sb.error(str(exc))
        tr = parse_range(DEFAULT_RANGE, now)

    sb.toggle("Auto-refresh", key="f_refresh", help=f"Reload the data every {cfg.refresh_seconds} s")
    if st.session_state.get("f_refresh"):
        _auto_refresh(cfg.refresh_seconds)

    _write_query_params(target, tr.label)
    user_email, user_email_verified = signed_in_user()
    ctx = ViewContext(
        all_targets=list(tdf["name"]) if not tdf.empty else [],
        targets=selected,
        target=target,
        engines=dict(zip(tdf["name"], tdf["engine"], strict=True)) if not tdf.empty else {},
        labels=dict(zip(tdf["name"], tdf["labels"], strict=True)) if not tdf.empty else {},
        time_range=tr,
        now=now,
        config=cfg,
        user_email=user_email,
        filter_error=filter_error,
        user_email_verified=user_email_verified,
    )
    st.session_state[_CTX_KEY] = ctx
    return ctx


def _write_query_params(target: str | None, range_label: str) -> None:
    wanted = {"range": range_label}
    if target:
        wanted["target"] = target
    if st.session_state.get("f_name"):
        wanted["q"] = st.session_state["f_name"]
    if st.session_state.get("f_labels"):
        wanted["labels"] = st.session_state["f_labels"]
    if dict(st.query_params) != wanted:
        st.query_params.from_dict(wanted)


def _auto_refresh(period: int) -> None:
    @st.fragment(run_every=period)
    def _tick() -> None:
        last = st.session_state.get("_last_refresh", 0.0)
        now = time.time()
        if now - last >= period - 0.5:
            st.session_state["_last_refresh"] = now
            if last:
                st.rerun(scope="app")

    with st.sidebar:
        _tick()
