"""Small Streamlit building blocks shared by the pages (empty states, KPI tiles, chart output)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.context import ViewContext


def empty_state(title: str, hint: str) -> None:
    """What a page shows when it has nothing to draw: what is missing and what to configure."""
    st.info(f"**{title}**\n\n{hint}", icon=":material/info:")


def no_targets(ctx: ViewContext) -> bool:
    """True (after drawing the empty state) when there is no target to show."""
    if not ctx.all_targets:
        empty_state(
            "No targets in the store yet",
            "Add targets to `headroom.yaml` (section `targets:`) and run `headroom collect` "
            "(or `headroom up`); they appear here after the first collection round.",
        )
        return True
    if not ctx.targets:
        empty_state("No target matches the sidebar filter", "Clear the name or label filter in the sidebar.")
        return True
    return False


def missing_metric(metric: str | Sequence[str], what: str) -> None:
    names = [metric] if isinstance(metric, str) else list(metric)
    shown = ", ".join(f"`{m}`" for m in names)
    empty_state(
        f"No {what} for this selection",
        f"The store has no samples of {shown} for the selected target and time range. "
        "Check that the target's preset enables the metric and see *Targets & collectors* for errors "
        "or missing privileges.",
    )


def chart(ch: Any) -> None:
    st.altair_chart(ch, width="stretch")


def table(df: pd.DataFrame, **kwargs: Any) -> None:
    st.dataframe(df, width="stretch", hide_index=True, **kwargs)


def kpi(
    label: str,
    value: str,
    delta: str | None = None,
    help: str | None = None,
    delta_color: str = "normal",
    chart_data: Sequence[float] | None = None,
) -> None:
    st.metric(
        label,
        value,
        delta=delta,
        help=help,
        border=True,
        delta_color=delta_color,  # type: ignore[arg-type]
        chart_data=list(chart_data) if chart_data is not None and len(chart_data) > 1 else None,
    )


POOLERS = frozenset({"pgbouncer"})  # engines that are no database server: no instance, queries, storage


def require_target(ctx: ViewContext, page: str | None = None) -> str | None:
    """The selected target of a single-target page, or None (after drawing why) when there is none. With
    ``page`` (its title), a connection pooler is refused too: it has none of a database server's pages."""
    if no_targets(ctx):
        return None
    target = ctx.target
    if page is not None and target is not None and ctx.engine_of(target) in POOLERS:
        st.title(f"{page} · {target}")
        empty_state(
            f"{target} is a connection pooler ({ctx.engine_of(target)}), not a database server",
            "Its pools, waiting clients and pool sizes are on the *PgBouncer* page; pick a PostgreSQL or "
            "MySQL/MariaDB target in the sidebar for this page.",
        )
        return None
    return target


def target_header(ctx: ViewContext, page: str, target: str) -> str:
    """The title and caption of a single-target page (engine, labels, time range); returns the engine."""
    from dashboard import format as fmt

    engine = ctx.engine_of(target) or "postgres"
    tr = ctx.time_range
    st.title(f"{page} · {target}")
    st.caption(
        f"{engine} · {fmt.fmt_labels(ctx.labels.get(target, {}))} · {fmt.fmt_ts(tr.start)} → {fmt.fmt_ts(tr.end)}"
    )
    return engine
