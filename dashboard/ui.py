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


def require_target(ctx: ViewContext) -> str | None:
    if no_targets(ctx):
        return None
    return ctx.target
