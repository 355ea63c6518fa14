"""The offline dashboard: ONE self-contained HTML file built from the published warehouse.

Every script (Vega, Vega-Lite and Vega-Embed, bundled by vl-convert), style and data point is
inline, so the page opens from a file share on a network with no internet. Charts are Vega-Lite
specs made with Altair; the page's own script applies the year / framework / programme filters,
fills the headline tiles and renders a data table beside every chart.

A partner-scoped copy (``partner="GEO"``) holds only that nation's rows plus overall aggregates
(all partners' totals), never another nation's code, name or figure: a total over fewer than
``MIN_NATIONS`` nations is withheld (the small-cell rule, see partner_export).

The page is the Jinja2 template ``dashboard.html.j2`` (autoescape on). Data reaches it only as JSON
in a ``<script type="application/json">`` element that the app reads with JSON.parse, and the app
shows every value as a DOM text node.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from functools import lru_cache
from pathlib import Path

import duckdb
import jinja2
from markupsafe import Markup

from txpipe.outputs.partner_export import MIN_NATIONS, PARTNER_SQL, run_sql
from txpipe.settings import Settings
from txpipe.store.atomic import write_text_atomically
from txpipe.text import printable_data, printable_html
from txpipe.warehouse.query import connect_read_only

HERE = Path(__file__).parent
STALE_DAYS = 90
FRAMEWORK_COLOURS = {
    "domain": ["ALLY", "PFP", "MD", "ICI", "PAG", "IO", "none"],
    "range": ["#8c96a3", "#1f5f99", "#d9822b", "#2a9d8f", "#8e5ea2", "#c0392b", "#cccccc"],
}


def _rows(con: duckdb.DuckDBPyConnection, name: str, partner: str | None, folder: Path = HERE / "sql") -> list[dict]:
    relation = run_sql(con, folder / f"{name}.sql", {"partner": partner, "min_nations": MIN_NATIONS})
    return [dict(zip(relation.columns, row)) for row in relation.fetchall()]


def gather(warehouse: Path, partner: str | None = None) -> dict:
    """Every figure the page shows, from the published warehouse (one nation's when ``partner``)."""
    with connect_read_only(warehouse) as con:
        nations = {r["code"]: r["name"] for r in _rows(con, "nations", partner)}
        if partner and partner not in nations:
            raise ValueError(f"{partner} is not a nation code in the warehouse")
        data = {name: _rows(con, name, partner) for name in ("participation", "outcomes", "gender", "coverage")}
        data["nations"] = nations
        if partner:
            data["exercises"] = _rows(con, "partner_metrics_exercises", partner, PARTNER_SQL)
            # the same small-cell rule as the partner marts: totals over too few nations are withheld
            data["totals"] = _rows(con, "partner_totals", partner, PARTNER_SQL)
            data["quality"] = None
        else:
            data["exercises"] = _rows(con, "exercises", None)
            data["totals"] = []
            data["quality"] = {
                "deliveries": _rows(con, "quality_deliveries", None),
                "reasons": _rows(con, "quality_reasons", None),
                "warnings": _rows(con, "quality_warnings", None),
            }
    return data


def _spec(chart) -> dict:
    spec = chart.to_dict()
    spec.pop("datasets", None)
    spec.pop("data", None)
    return spec


def chart_specs(partner: str | None) -> dict:
    import altair as alt  # only when a dashboard is drawn (0.3 s to import)

    empty = alt.Data(values=[])
    colour = alt.Color("framework:N", scale=alt.Scale(**FRAMEWORK_COLOURS), title="framework")
    specs = {
        "trend": alt.Chart(empty)
        .mark_line(point=True)
        .encode(
            x=alt.X("period:O", title="quarter", sort=None),
            y=alt.Y("participants:Q", title="participants"),
            color=colour,
            tooltip=["period:O", "framework:N", "participants:Q"],
        )
        .properties(height=260),
        "programme": alt.Chart(empty)
        .mark_bar()
        .encode(
            x=alt.X("participants:Q", title="participants", stack="zero"),
            y=alt.Y("programme:N", title=None),
            color=colour,
            tooltip=["programme:N", "framework:N", "participants:Q"],
        )
        .properties(height=160),
        "partners": alt.Chart(empty)
        .mark_bar()
        .encode(
            x=alt.X("participants:Q", title="participants"),
            y=alt.Y("name:N", sort="-x", title=None),
            color=colour,
            tooltip=["name:N", "framework:N", "participants:Q", "individuals:Q"],
        )
        .properties(height=320),
        "exercises": alt.Chart(empty)
        .mark_bar()
        .encode(
            x=alt.X("headcount:Q" if partner else "partner_headcount:Q", title="headcount"),
            y=alt.Y("exercise:N", sort="-x", title=None),
            tooltip=(
                ["exercise:N", "headcount:Q", "training_audience_headcount:Q", "observer_headcount:Q"]
                if partner
                else ["exercise:N", "partner_nations:Q", "partner_headcount:Q", "observer_headcount:Q"]
            ),
        )
        .properties(height=260),
        "status": alt.Chart(empty)
        .mark_bar()
        .encode(
            x=alt.X("files:Q", title="files"),
            y=alt.Y("source:N", title=None),
            color=alt.Color(
                "status:N",
                scale=alt.Scale(domain=["stored", "rejected", "superseded"], range=["#1a7f37", "#b42318", "#8c96a3"]),
            ),
            tooltip=["source:N", "status:N", "files:Q"],
        )
        .properties(height=180),
        "share": alt.Chart(empty)
        .mark_bar(color="#d9822b")
        .encode(
            x=alt.X("share:Q", title="quarantined share of rows", axis=alt.Axis(format="%")),
            y=alt.Y("source:N", title=None),
            tooltip=["source:N", "rows_quarantined:Q", "rows_read:Q", alt.Tooltip("share:Q", format=".1%")],
        )
        .properties(height=180),
        "reasons": alt.Chart(empty)
        .mark_bar(color="#b42318")
        .encode(
            x=alt.X("rows:Q", title="rows quarantined"),
            y=alt.Y("reason:N", sort="-x", title=None),
            tooltip=["reason:N", "rows:Q"],
        )
        .properties(height=260),
        "warnings": alt.Chart(empty)
        .mark_bar(color="#d9822b")
        .encode(
            x=alt.X("rows:Q", title="rows stored with the warning"),
            y=alt.Y("warning:N", sort="-x", title=None),
            tooltip=["warning:N", "rows:Q"],
        )
        .properties(height=120),
    }
    return {name: _spec(chart) for name, chart in specs.items()}


@lru_cache(maxsize=4)
def vega_bundle(cache_dir: Path | None = None) -> str:
    """Vega, Vega-Lite and Vega-Embed as one script (they define window.vegaEmbed).

    vl-convert bundles it offline in about 1.3 s; with ``cache_dir`` the bundle is kept there,
    one file per vl-convert version, and read back on later runs.
    """
    from importlib.metadata import version

    cached = cache_dir / f"vega-bundle-{version('vl-convert-python')}.js" if cache_dir else None
    if cached is not None and cached.is_file():
        return cached.read_text(encoding="utf-8")
    import vl_convert

    bundle = vl_convert.javascript_bundle()
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(cached, bundle)
    return bundle


def _json_for_script(value) -> Markup:
    """JSON for a <script type="application/json"> element: nothing in it can end or re-open the element."""
    text = json.dumps(value, default=str, ensure_ascii=False, allow_nan=False)
    for char, escaped in (
        ("&", "\\u0026"),
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return Markup(text)


def _trusted(text: str, element: str) -> Markup:
    """Our own script or style (never data) inlined in its element, any closing tag in it neutralised."""
    if element == "script" and "<!--" in text:  # would open the script-data escape states
        raise ValueError("an inlined script holds '<!--'")
    return Markup(re.sub(rf"</(?={element})", r"<\\/", text, flags=re.I))


@lru_cache(maxsize=1)
def templates() -> jinja2.Environment:
    """The HTML templates beside this module, autoescaping every value they show."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE),
        autoescape=True,
        finalize=printable_html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(
    data: dict, partner: str | None = None, generated: dt.datetime | None = None, cache_dir: Path | None = None
) -> str:
    generated = generated or dt.datetime.now(dt.UTC)
    name = data["nations"].get(partner, partner) if partner else None
    payload = {
        **printable_data(data),
        "specs": chart_specs(partner),  # data: control and bidi characters escaped
        "meta": {
            "partner": partner,
            "stale_days": STALE_DAYS,
            "min_nations": MIN_NATIONS,
            "generated": generated.isoformat(timespec="minutes"),
        },
    }
    return (
        templates()
        .get_template("dashboard.html.j2")
        .render(
            partner=partner,
            name=name,
            generated=f"{generated:%Y-%m-%d %H:%M}",
            stale_days=STALE_DAYS,
            min_nations=MIN_NATIONS,
            data=_json_for_script(payload),
            css=_trusted((HERE / "dashboard.css").read_text(encoding="utf-8"), "style"),
            vega=_trusted(vega_bundle(cache_dir), "script"),
            app=_trusted((HERE / "dashboard.js").read_text(encoding="utf-8"), "script"),
        )
    )


def dashboard_path(settings: Settings, partner: str | None = None) -> Path:
    return settings.reports_dir / (f"dashboard-{partner}.html" if partner else "dashboard.html")


def write_dashboard(settings: Settings, partner: str | None = None, out: Path | None = None) -> Path:
    """Write reports/dashboard.html (or the partner copy) atomically; return its path."""
    from txpipe.warehouse.publish import warehouse_path

    partner = partner.upper() if partner else None
    target = out or dashboard_path(settings, partner)
    html = render(gather(warehouse_path(settings), partner), partner, cache_dir=settings.home / "cache")
    return write_text_atomically(target, html)
