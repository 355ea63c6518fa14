"""The dashboard's charts: one Vega-Lite spec per chart, made with Altair, without data.

Every chart is drawn from an empty inline data set and the spec keeps no data: the page's own
script fills each chart from the JSON payload as the filters change. Importing this module imports
Altair (about 0.3 s), so ``txpipe.outputs.dashboard`` imports it only when a dashboard is drawn.
"""

from __future__ import annotations

import altair as alt

# A chart's Vega-Lite spec as JSON-ready values.
ChartSpec = dict[str, object]

FRAMEWORK_COLOURS = {
    "domain": ["ALLY", "PFP", "MD", "ICI", "PAG", "IO", "none"],
    "range": ["#8c96a3", "#1f5f99", "#d9822b", "#2a9d8f", "#8e5ea2", "#c0392b", "#cccccc"],
}
STATUS_COLOURS = {
    "domain": ["stored", "rejected", "rejected, earlier delivery kept", "superseded"],
    "range": ["#1a7f37", "#b42318", "#d9822b", "#8c96a3"],
}


def _chart() -> alt.Chart:
    """A chart with no rows of its own (the page supplies them).

    Altair's ``mark_*`` methods are typed as returning Any, so each chart below names its type."""
    return alt.Chart(alt.InlineData(values=[]))


def _framework_colour() -> alt.Color:
    return alt.Color(
        "framework:N",
        scale=alt.Scale(domain=FRAMEWORK_COLOURS["domain"], range=FRAMEWORK_COLOURS["range"]),
        title="framework",
    )


def _trend() -> alt.Chart:
    """Participants per quarter, a line per framework."""
    chart: alt.Chart = (
        _chart()
        .mark_line(point=True)
        .encode(
            x=alt.X("period:O", title="quarter", sort=None),
            y=alt.Y("participants:Q", title="participants"),
            color=_framework_colour(),
            tooltip=["period:O", "framework:N", "participants:Q"],
        )
        .properties(height=260)
    )
    return chart


def _programme() -> alt.Chart:
    """Participants per programme, stacked by framework."""
    chart: alt.Chart = (
        _chart()
        .mark_bar()
        .encode(
            x=alt.X("participants:Q", title="participants", stack="zero"),
            y=alt.Y("programme:N", title=None),
            color=_framework_colour(),
            tooltip=["programme:N", "framework:N", "participants:Q"],
        )
        .properties(height=160)
    )
    return chart


def _partners() -> alt.Chart:
    """Participants per partner nation, most first."""
    chart: alt.Chart = (
        _chart()
        .mark_bar()
        .encode(
            x=alt.X("participants:Q", title="participants"),
            y=alt.Y("name:N", sort="-x", title=None),
            color=_framework_colour(),
            tooltip=["name:N", "framework:N", "participants:Q", "individuals:Q"],
        )
        .properties(height=320)
    )
    return chart


def _exercises(partner: str | None) -> alt.Chart:
    """Headcount per exercise: the partner's own (a partner copy) or all partners' (the full page)."""
    tooltip = (
        ["exercise:N", "headcount:Q", "training_audience_headcount:Q", "observer_headcount:Q"]
        if partner
        else ["exercise:N", "partner_nations:Q", "partner_headcount:Q", "observer_headcount:Q"]
    )
    chart: alt.Chart = (
        _chart()
        .mark_bar()
        .encode(
            x=alt.X("headcount:Q" if partner else "partner_headcount:Q", title="headcount"),
            y=alt.Y("exercise:N", sort="-x", title=None),
            tooltip=tooltip,
        )
        .properties(height=260)
    )
    return chart


def _status() -> alt.Chart:
    """Delivered files per source, by what happened to them."""
    chart: alt.Chart = (
        _chart()
        .mark_bar()
        .encode(
            x=alt.X("files:Q", title="files"),
            y=alt.Y("source:N", title=None),
            color=alt.Color(
                "status:N", scale=alt.Scale(domain=STATUS_COLOURS["domain"], range=STATUS_COLOURS["range"])
            ),
            tooltip=["source:N", "status:N", "files:Q"],
        )
        .properties(height=180)
    )
    return chart


def _share() -> alt.Chart:
    """The share of each source's rows that was quarantined."""
    chart: alt.Chart = (
        _chart()
        .mark_bar(color="#d9822b")
        .encode(
            x=alt.X("share:Q", title="quarantined share of rows", axis=alt.Axis(format="%")),
            y=alt.Y("source:N", title=None),
            tooltip=["source:N", "rows_quarantined:Q", "rows_read:Q", alt.Tooltip("share:Q", format=".1%")],
        )
        .properties(height=180)
    )
    return chart


def _ranked(category: str, title: str, color: str, height: int) -> alt.Chart:
    """Rows per ``category`` (a quarantine reason, a warning), most first."""
    chart: alt.Chart = (
        _chart()
        .mark_bar(color=color)
        .encode(
            x=alt.X("rows:Q", title=title),
            y=alt.Y(f"{category}:N", sort="-x", title=None),
            tooltip=[f"{category}:N", "rows:Q"],
        )
        .properties(height=height)
    )
    return chart


def _spec(chart: alt.Chart) -> ChartSpec:
    """The chart's Vega-Lite spec without its (empty) data."""
    spec: ChartSpec = chart.to_dict()
    spec.pop("datasets", None)
    spec.pop("data", None)
    return spec


def chart_specs(partner: str | None) -> dict[str, ChartSpec]:
    """Every chart's spec by the name the page knows it by (the exercise chart differs for a partner copy)."""
    charts = {
        "trend": _trend(),
        "programme": _programme(),
        "partners": _partners(),
        "exercises": _exercises(partner),
        "status": _status(),
        "share": _share(),
        "reasons": _ranked("reason", "rows quarantined", "#b42318", 260),
        "warnings": _ranked("warning", "rows stored with the warning", "#d9822b", 120),
    }
    return {name: _spec(chart) for name, chart in charts.items()}
