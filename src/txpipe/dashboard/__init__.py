"""The offline dashboard: ONE self-contained HTML file built from the published warehouse.

Every script (Vega, Vega-Lite and Vega-Embed, bundled by vl-convert), style and data point is
inline, so the page opens from a file share on a network with no internet. Charts are Vega-Lite
specs made with Altair; the page's own script applies the year / framework / programme filters,
fills the headline tiles and renders a data table beside every chart.

A partner-scoped copy (``partner="GEO"``) holds only that nation's rows plus overall aggregates
(all partners' totals), never another nation's code, name or figure.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from pathlib import Path

import duckdb

from txpipe.atomic import write_text_atomically
from txpipe.settings import Settings
from txpipe.warehouse.query import connect_read_only

HERE = Path(__file__).parent
PARTNER_SQL = HERE.parent / "partner_sql"  # shared with the partner-scoped marts
STALE_DAYS = 90
FRAMEWORK_COLOURS = {"domain": ["ALLY", "PFP", "MD", "ICI", "PAG", "IO", "none"],
                     "range": ["#8c96a3", "#1f5f99", "#d9822b", "#2a9d8f", "#8e5ea2", "#c0392b", "#cccccc"]}


def _rows(con: duckdb.DuckDBPyConnection, name: str, partner: str | None, folder: Path = HERE / "sql") -> list[dict]:
    sql = (folder / f"{name}.sql").read_text(encoding="utf-8")
    cursor = con.execute(sql, {"partner": partner} if "$partner" in sql else None)
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


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
            data["totals"] = _rows(con, "totals", None)
            data["quality"] = None
        else:
            data["exercises"] = _rows(con, "exercises", None)
            data["totals"] = []
            data["quality"] = {"deliveries": _rows(con, "quality_deliveries", None),
                               "reasons": _rows(con, "quality_reasons", None),
                               "warnings": _rows(con, "quality_warnings", None)}
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
        "trend": alt.Chart(empty).mark_line(point=True).encode(
            x=alt.X("period:O", title="quarter", sort=None), y=alt.Y("participants:Q", title="participants"),
            color=colour, tooltip=["period:O", "framework:N", "participants:Q"]).properties(height=260),
        "programme": alt.Chart(empty).mark_bar().encode(
            x=alt.X("participants:Q", title="participants", stack="zero"), y=alt.Y("programme:N", title=None),
            color=colour, tooltip=["programme:N", "framework:N", "participants:Q"]).properties(height=160),
        "partners": alt.Chart(empty).mark_bar().encode(
            x=alt.X("participants:Q", title="participants"), y=alt.Y("name:N", sort="-x", title=None),
            color=colour, tooltip=["name:N", "framework:N", "participants:Q", "individuals:Q"]).properties(height=320),
        "exercises": alt.Chart(empty).mark_bar().encode(
            x=alt.X("headcount:Q" if partner else "partner_headcount:Q", title="headcount"),
            y=alt.Y("exercise:N", sort="-x", title=None),
            tooltip=(["exercise:N", "headcount:Q", "training_audience_headcount:Q", "observer_headcount:Q"] if partner
                     else ["exercise:N", "partner_nations:Q", "partner_headcount:Q", "observer_headcount:Q"]),
        ).properties(height=260),
        "status": alt.Chart(empty).mark_bar().encode(
            x=alt.X("files:Q", title="files"), y=alt.Y("source:N", title=None),
            color=alt.Color("status:N", scale=alt.Scale(domain=["stored", "rejected", "superseded"],
                                                        range=["#1a7f37", "#b42318", "#8c96a3"])),
            tooltip=["source:N", "status:N", "files:Q"]).properties(height=180),
        "share": alt.Chart(empty).mark_bar(color="#d9822b").encode(
            x=alt.X("share:Q", title="quarantined share of rows", axis=alt.Axis(format="%")), y=alt.Y("source:N", title=None),
            tooltip=["source:N", "rows_quarantined:Q", "rows_read:Q", alt.Tooltip("share:Q", format=".1%")]
        ).properties(height=180),
        "reasons": alt.Chart(empty).mark_bar(color="#b42318").encode(
            x=alt.X("rows:Q", title="rows quarantined"), y=alt.Y("reason:N", sort="-x", title=None),
            tooltip=["reason:N", "rows:Q"]).properties(height=260),
        "warnings": alt.Chart(empty).mark_bar(color="#d9822b").encode(
            x=alt.X("rows:Q", title="rows stored with the warning"), y=alt.Y("warning:N", sort="-x", title=None),
            tooltip=["warning:N", "rows:Q"]).properties(height=120),
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


def _script_json(value) -> str:
    return json.dumps(value, default=str, ensure_ascii=False).replace("</", "<\\/")


def render(data: dict, partner: str | None = None, generated: dt.datetime | None = None,
           cache_dir: Path | None = None) -> str:
    generated = generated or dt.datetime.now(dt.timezone.utc)
    name = data["nations"].get(partner, partner) if partner else None
    payload = {**data, "specs": chart_specs(partner),
               "meta": {"partner": partner, "stale_days": STALE_DAYS, "generated": generated.isoformat(timespec="minutes")}}
    title = f"Partnership participation: {name}" if partner else "Partnership training and exercise participation"
    quality = "" if partner else QUALITY_SECTION
    return (PAGE.replace("{{title}}", title)
            .replace("{{subtitle}}", (f"Partner-scoped copy for {name} ({partner}): only its own figures and overall totals. "
                                      if partner else "") + f"Built {generated:%Y-%m-%d %H:%M} UTC from the published warehouse.")
            .replace("{{engaged_label}}", "Participation events" if partner else "Partner nations engaged")
            .replace("{{exercise_title}}", f"{name}'s participation in exercises" if partner else "Partner participation in exercises")
            .replace("{{partners_title}}", "Participation" if partner else "Top partners")
            .replace("{{quality}}", quality)
            .replace("{{css}}", (HERE / "dashboard.css").read_text(encoding="utf-8"))
            .replace("{{data}}", _script_json(payload))
            .replace("{{vega}}", vega_bundle(cache_dir).replace("</script", "<\\/script"))
            .replace("{{app}}", (HERE / "dashboard.js").read_text(encoding="utf-8")))


def dashboard_path(settings: Settings, partner: str | None = None) -> Path:
    return settings.reports_dir / (f"dashboard-{partner}.html" if partner else "dashboard.html")


def write_dashboard(settings: Settings, partner: str | None = None, out: Path | None = None) -> Path:
    """Write reports/dashboard.html (or the partner copy) atomically; return its path."""
    from txpipe.warehouse.publish import warehouse_path

    partner = partner.upper() if partner else None
    target = out or dashboard_path(settings, partner)
    html = render(gather(warehouse_path(settings), partner), partner, cache_dir=settings.home / "cache")
    return write_text_atomically(target, html)


QUALITY_SECTION = """
<section id="quality"><h2>Data quality</h2>
  <div class="grid2">
    <div><h3 class="muted">Deliveries by source and status</h3><div class="chart" id="chart-status"></div>
      <details><summary>Data table</summary><div id="table-status"></div></details></div>
    <div><h3 class="muted">Quarantined share of rows by source</h3><div class="chart" id="chart-share"></div>
      <details><summary>Data table</summary><div id="table-share"></div></details></div>
    <div><h3 class="muted">Top quarantine reasons</h3><div class="chart" id="chart-reasons"></div>
      <details><summary>Data table</summary><div id="table-reasons"></div></details></div>
    <div><h3 class="muted">Warnings on stored rows (kept and counted)</h3><div class="chart" id="chart-warnings"></div>
      <details><summary>Data table</summary><div id="table-warnings"></div></details></div>
    <div><h3 class="muted">Last delivery per source (stale: more than 90 days behind the newest)</h3>
      <div id="table-freshness"></div></div>
  </div>
</section>"""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{title}}</title><style>{{css}}</style></head>
<body>
<header><h1>{{title}}</h1><p>{{subtitle}}</p></header>
<nav class="filters" aria-label="Filters">
  <label>Year <select id="filter-year"></select></label>
  <label>Framework <select id="filter-framework"></select></label>
  <label>Programme <select id="filter-programme"></select></label>
</nav>
<main>
<pre id="errors" role="alert"></pre>
<div class="tiles" aria-label="Headline figures for the selected year against the previous one">
  <div class="tile" id="tile-participants"><div class="label">Partner participants</div><div class="value"></div><div class="delta"></div><div class="note"></div></div>
  <div class="tile" id="tile-engaged"><div class="label">{{engaged_label}}</div><div class="value"></div><div class="delta"></div><div class="note"></div></div>
  <div class="tile" id="tile-women"><div class="label">Women's share (partners)</div><div class="value"></div><div class="delta"></div><div class="note"></div></div>
  <div class="tile" id="tile-completion"><div class="label">Course completion rate (partners)</div><div class="value"></div><div class="delta"></div><div class="note"></div></div>
</div>
<section><h2>Partner participation by quarter and framework</h2><div class="chart" id="chart-trend"></div>
  <details><summary>Data table</summary><div id="table-trend"></div></details></section>
<div class="grid2">
<section><h2>Programme split (selected year)</h2><div class="chart" id="chart-programme"></div>
  <details><summary>Data table</summary><div id="table-programme"></div></details></section>
<section><h2>{{exercise_title}} (selected year)</h2><div class="chart" id="chart-exercises"></div>
  <details><summary>Data table</summary><div id="table-exercises"></div></details></section>
</div>
<section><h2>{{partners_title}} (selected year; click a column to sort)</h2>
  <div class="grid2"><div class="chart" id="chart-partners"></div><div id="table-partners"></div></div></section>
{{quality}}
</main>
<script>window.TXPIPE = {{data}};</script>
<script>{{vega}}</script>
<script>{{app}}</script>
</body></html>
"""
