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
from typing import TYPE_CHECKING, TypedDict

import duckdb
import jinja2
from markupsafe import Markup

from txpipe.outputs.partner_export import MIN_NATIONS, PARTNER_SQL, known_partner, partner_code, run_sql
from txpipe.settings import Settings, unwritable_folder
from txpipe.store.atomic import write_text_atomically
from txpipe.text import printable_data, printable_html
from txpipe.warehouse.query import connect_read_only

if TYPE_CHECKING:
    from txpipe.outputs.dashboard.charts import ChartSpec

HERE = Path(__file__).parent
STALE_DAYS = 90

Record = dict[str, object]  # one row of a dashboard query, by column name


class Quality(TypedDict):
    """The data-quality section (the full page only)."""

    deliveries: list[Record]
    reasons: list[Record]
    warnings: list[Record]


class DashboardData(TypedDict):
    """Every figure the page shows, in the order the page's JSON holds them."""

    participation: list[Record]
    outcomes: list[Record]
    gender: list[Record]
    coverage: list[Record]
    nations: dict[object, object]  # code -> display name, as the warehouse holds them
    exercises: list[Record]
    totals: list[Record]  # overall totals (a partner copy only; withheld where too few nations)
    quality: Quality | None  # None in a partner copy


def _rows(con: duckdb.DuckDBPyConnection, name: str, partner: str | None, folder: Path = HERE / "sql") -> list[Record]:
    relation = run_sql(con, folder / f"{name}.sql", {"partner": partner, "min_nations": MIN_NATIONS})
    # a row holds one value per column
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def _quality(con: duckdb.DuckDBPyConnection) -> Quality:
    return Quality(
        deliveries=_rows(con, "quality_deliveries", None),
        reasons=_rows(con, "quality_reasons", None),
        warnings=_rows(con, "quality_warnings", None),
    )


def gather(warehouse: Path, partner: str | None = None) -> DashboardData:
    """Every figure the page shows, from the published warehouse (one nation's when ``partner``)."""
    with connect_read_only(warehouse) as con:
        if partner is not None:
            partner = known_partner(con, partner)  # never blank, never one the warehouse does not hold
        nations = {r["code"]: r["name"] for r in _rows(con, "nations", partner)}
        return DashboardData(
            participation=_rows(con, "participation", partner),
            outcomes=_rows(con, "outcomes", partner),
            gender=_rows(con, "gender", partner),
            coverage=_rows(con, "coverage", partner),
            nations=nations,
            exercises=(
                _rows(con, "partner_metrics_exercises", partner, PARTNER_SQL)
                if partner
                else _rows(con, "exercises", None)
            ),
            # the same small-cell rule as the partner marts: totals over too few nations are withheld
            totals=_rows(con, "partner_totals", partner, PARTNER_SQL) if partner else [],
            quality=None if partner else _quality(con),
        )


def chart_specs(partner: str | None) -> dict[str, ChartSpec]:
    """Every chart's Vega-Lite spec, without data (see txpipe.outputs.dashboard.charts)."""
    from txpipe.outputs.dashboard.charts import chart_specs as specs  # Altair only when a dashboard is drawn (0.3 s)

    return specs(partner)


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

    # vl-convert's stub declares ``snippet`` required, but the function takes None (its default): the
    # default snippet, which puts vegaEmbed, vegaLite and vega on window, is the one the page needs.
    bundle = vl_convert.javascript_bundle()  # type: ignore[call-arg]
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(cached, bundle)
    return bundle


def _json_for_script(value: object) -> Markup:
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
    data: DashboardData, partner: str | None = None, generated: dt.datetime | None = None, cache_dir: Path | None = None
) -> str:
    generated = generated or dt.datetime.now(dt.UTC)
    partner = None if partner is None else partner_code(partner)
    name = data["nations"].get(partner, partner) if partner else None
    payload = {
        # data: control and bidi characters escaped (dict(): a TypedDict is typed as a Mapping, not a dict)
        **printable_data(dict(data)),
        "specs": chart_specs(partner),
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
    return settings.reports_dir / ("dashboard.html" if partner is None else f"dashboard-{partner_code(partner)}.html")


def write_dashboard(settings: Settings, partner: str | None = None, out: Path | None = None) -> Path:
    """Write reports/dashboard.html (or the partner copy) atomically; return its path. A partner code that is
    blank or not the warehouse's, or a folder it cannot write in, is refused (ValueError) before anything
    is written (a blank code never gives the all-partner copy: that one is asked for with None)."""
    from txpipe.warehouse.publish import warehouse_path

    partner = None if partner is None else partner_code(partner)
    target = out or dashboard_path(settings, partner)
    data = gather(warehouse_path(settings), partner)
    if why := unwritable_folder(target.parent, "the dashboard's folder"):
        raise ValueError(why)
    return write_text_atomically(target, render(data, partner, cache_dir=settings.home / "cache"))
