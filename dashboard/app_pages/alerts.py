"""Alerts: firing and pending, history, silences (create/expire with author and comment), channel health."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from dashboard import alerting, context, data, ui
from dashboard import format as fmt
from dashboard.fleet import labels_of

ctx = context.current()
st.title("Alerts")


def _shown(df: pd.DataFrame, ts_cols: tuple[str, ...]) -> pd.DataFrame:
    """Alert rows as read: target, rule and the rendered summary first, times and value formatted."""
    labels = [labels_of(j) for j in df["labels_json"]]
    notes = (
        [labels_of(j) for j in df["annotations_json"]] if "annotations_json" in df.columns else [{}] * len(df)
    )
    out = pd.DataFrame({"time": [fmt.fmt_ts(v) for v in df["ts"]]}) if "ts" in ts_cols else pd.DataFrame()
    out["target"] = [lab.get("target", fmt.DASH) for lab in labels]
    out["rule"] = df["rule"].to_numpy()
    out["summary"] = [n.get("summary") or fmt.DASH for n in notes]
    for c in ("state", "from_state", "to_state", "severity"):
        if c in df.columns:
            out[c] = df[c].to_numpy()
    for c in ts_cols:
        if c != "ts":
            out[c] = [fmt.fmt_ts(v) for v in df[c]]
    out["value"] = [fmt.fmt_number(v) for v in df["value"]]
    out["labels"] = [fmt.fmt_labels(lab, skip=("alertname", "target", "severity")) for lab in labels]
    return out


def _in_filter(df: pd.DataFrame) -> pd.DataFrame:
    if df.empty or not ctx.all_targets or len(ctx.targets) == len(ctx.all_targets):
        return df
    keep = [
        (labels_of(j).get("target") in ctx.targets) or labels_of(j).get("target") is None
        for j in df["labels_json"]
    ]
    return df[keep]


states = _in_filter(data.alert_states())
firing = states[states["state"] == "firing"]
pending = states[states["state"] == "pending"]
c1, c2 = st.columns(2)
with c1:
    ui.kpi("Firing", str(len(firing)))
with c2:
    ui.kpi("Pending", str(len(pending)))

st.subheader("Firing")
if firing.empty:
    st.caption("Nothing is firing.")
else:
    ui.table(_shown(firing, ("active_since", "fired_at", "last_eval")))
st.subheader("Pending")
if pending.empty:
    st.caption("Nothing is pending.")
else:
    ui.table(_shown(pending, ("active_since", "fired_at", "last_eval")))

st.subheader("History")
hist = _in_filter(data.alert_history(ctx.time_range.start))
if hist.empty:
    ui.empty_state(
        "No alert transitions in this range",
        "Alerts are evaluated by `headroom alerts` (or `headroom up`) from the rules in the `alerts:` "
        "section of `headroom.yaml`.",
    )
else:
    ui.table(_shown(hist, ("ts",)))

st.subheader("Silences")
store = data.get_store()
sil = alerting.list_silences(store)
if sil.empty:
    st.caption("No silences.")
else:
    ui.table(
        sil.assign(
            starts_at=[fmt.fmt_ts(v) for v in sil["starts_at"]],
            ends_at=[fmt.fmt_ts(v) for v in sil["ends_at"]],
        )
    )

if not ctx.can_write:
    st.caption(
        "Read-only: sign in as an admin (`dashboard.admins`) to create or expire silences"
        + ("" if ctx.config.auth_enabled else ", or set `dashboard.read_only: false`")
        + "."
    )
else:
    with st.form("new_silence", clear_on_submit=True):
        st.markdown("**New silence**")
        matchers_text = st.text_input(
            "Matchers", key="sil_matchers", placeholder="target=orders-primary, alertname=ReplicationLag"
        )
        hours = st.number_input(
            "Duration (hours)", key="sil_hours", min_value=0.25, max_value=24.0 * 30, value=2.0, step=0.25
        )
        author = st.text_input(
            "Author", value=ctx.user_email or "", key="sil_author", disabled=ctx.user_email is not None
        )
        comment = st.text_input("Comment", key="sil_comment", placeholder="Planned maintenance: OS patching")
        if st.form_submit_button("Create silence", type="primary", key="sil_create"):
            try:
                matchers = fmt.parse_label_filter(matchers_text)
                if not matchers:
                    raise ValueError("at least one matcher key=value is required")
                author = ctx.user_email or author
                if not author.strip() or not comment.strip():
                    raise ValueError("author and comment are both required")
                start = int(time.time())
                alerting.create_silence(
                    store, matchers, start, start + int(hours * 3600), author.strip(), comment.strip()
                )
                data.clear_caches()
                st.success("Silence created.")
            except ValueError as exc:
                st.error(str(exc))
    active = sil[sil["state"] != "expired"] if not sil.empty else sil
    if not active.empty:
        with st.form("expire_silence"):
            st.markdown("**Expire a silence**")
            sid = st.selectbox(
                "Silence",
                list(active["id"]),
                key="exp_id",
                format_func=lambda i: f"#{i} · {active[active['id'] == i]['matchers'].iloc[0]}",
            )
            who = st.text_input(
                "Author", value=ctx.user_email or "", key="exp_author", disabled=ctx.user_email is not None
            )
            why = st.text_input("Comment", key="exp_comment", placeholder="Maintenance finished")
            if st.form_submit_button("Expire", key="exp_submit"):
                who = ctx.user_email or who
                if not who.strip() or not why.strip():
                    st.error("author and comment are both required")
                else:
                    try:
                        alerting.expire_silence(store, int(sid), who.strip(), why.strip())
                        data.clear_caches()
                        st.success(f"Silence #{sid} expired.")
                    except ValueError as exc:
                        st.error(str(exc))

st.subheader("Channel delivery health")
health = alerting.channel_health(store)
if health.empty:
    st.caption("No notification sent or queued yet (channels are configured in `alerts.channels`).")
else:
    for col in [c for c in health.columns if c.endswith("_at")]:
        health[col] = [fmt.fmt_ts(v) for v in health[col]]
    if "last_success" in health.columns:
        health["last_success"] = [
            "never" if fmt.is_missing(v) else fmt.fmt_ts(v) for v in health["last_success"]
        ]
    if "last_error" in health.columns:
        health["last_error"] = [e if isinstance(e, str) and e else fmt.DASH for e in health["last_error"]]
    ui.table(health)
