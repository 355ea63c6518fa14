"""The offline dashboard in a real headless browser, its headline figures, and partner-scoped copies."""

from __future__ import annotations

import json
import re
from html import escape as html_escape

import duckdb
import pyarrow.parquet as pq
import pytest

from tests.browser import open_page
from tests.conftest import SAMPLE_LANDING, ingest_all, kept_build_result
from txpipe.outputs.dashboard import write_dashboard
from txpipe.outputs.partner_export import export_partner_marts
from txpipe.reference import load_reference
from txpipe.settings import REPO_ROOT, Settings
from txpipe.warehouse.publish import publish_warehouse

pytestmark = pytest.mark.integration
CHARTS = ("trend", "programme", "exercises", "partners", "status", "share", "reasons", "warnings")


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("TXPIPE_HOME", str(tmp_path_factory.mktemp("dashboard") / "home"))
    mp.setenv("TXPIPE_PSEUDONYM_KEY", "dashboard")
    settings = Settings.from_env()
    ingest_all(settings, SAMPLE_LANDING)
    path, _ = publish_warehouse(settings)
    yield settings, path
    mp.undo()


@pytest.fixture(scope="module")
def page(published, tmp_path_factory):
    settings, _ = published
    html = write_dashboard(settings)
    shots = tmp_path_factory.mktemp("shots")
    return html, open_page(html, shots / "profile", screenshot=shots / "dashboard.png"), shots / "dashboard.png"


@pytest.mark.deep
def test_charts_are_drawn_offline_without_errors(page):
    html, result, screenshot = page
    text = html.read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", text), "the file must not load anything"
    assert result["requests"] == [], result["requests"]
    assert not [line for line in result["console"] if "error" in line.lower() or "uncaught" in line.lower()]
    dom = result["dom"]
    assert 'data-ready="true"' in dom
    assert re.search(r'<pre id="errors" role="alert">\s*</pre>', dom), "the page reported a script error"
    for name in CHARTS:
        chart = dom.split(f'id="chart-{name}"', 1)[1].split("</svg>", 1)[0]
        width = float(re.search(r'<svg[^>]*width="([0-9.]+)"', chart).group(1))
        assert width > 100, f"{name} drawn {width} px wide"
        assert len(re.findall(r'role="graphics-symbol"', chart)) > 0, f"{name} has no marks"
    for name in ("trend", "programme", "exercises", "status", "share", "reasons", "warnings"):
        assert re.search(rf'id="table-{name}"><table>.*?<td', dom, re.S), f"{name} has no data table"
    assert screenshot.stat().st_size > 20_000


def tile_values(dom: str) -> dict[str, float]:
    return {m.group(1): float(m.group(2)) for m in re.finditer(r'id="tile-(\w+)"[^>]*data-value="([0-9.eE+-]+)"', dom)}


@pytest.mark.deep
def test_headline_figures_match_the_warehouse(page, published):
    _, result, _ = page
    _, warehouse = published
    tiles = tile_values(result["dom"])
    with duckdb.connect(str(warehouse), read_only=True) as con:
        year = con.execute("SELECT max(year(start_date)) FROM participation WHERE is_attended(status)").fetchone()[0]
        partners, engaged, women, known, completed, attended = con.execute(
            """
            SELECT sum(headcount), count(DISTINCT nation),
                   sum(headcount) FILTER (WHERE sex = 'F'), sum(headcount) FILTER (WHERE sex IN ('F', 'M', 'X')),
                   -- completion is a course measure: education and training only
                   sum(headcount) FILTER (WHERE status IN ('completed', 'passed') AND programme <> 'exercise'),
                   sum(headcount) FILTER (WHERE programme <> 'exercise')
            FROM participation
            WHERE is_attended(status) AND is_partner(framework) AND year(start_date) = ?""",
            [year],
        ).fetchone()
    assert tiles["participants"] == partners
    assert tiles["engaged"] == engaged
    assert tiles["women"] == pytest.approx(women / known)
    assert tiles["completion"] == pytest.approx(completed / attended)
    assert tiles["completion"] > 0.5  # courses are mostly completed; exercise contingents once made it 7.8%


def test_partner_copies_hold_no_other_nation(published, tmp_path):
    settings, _ = published
    partner = "GEO"
    files = [write_dashboard(settings, partner=partner, out=tmp_path / "dashboard-GEO.html")]
    files += export_partner_marts(settings, partner, tmp_path / "marts")
    nations = load_reference(REPO_ROOT / "data" / "reference").nations
    others = nations[nations["code"] != partner]
    patterns = [re.compile(rf"(?<![A-Za-z0-9]){re.escape(code)}(?![A-Za-z0-9])") for code in set(others["code"])]
    patterns += [re.compile(rf"(?<![A-Za-z]){re.escape(name)}(?![A-Za-z])", re.I) for name in set(others["name"])]
    own = re.compile(r"(?<![A-Za-z0-9])GEO(?![A-Za-z0-9])")
    assert len(files) == 11
    for path in files:
        content = path.read_bytes().decode("utf-8", errors="replace")
        if path.suffix == ".parquet":
            content += repr(pq.read_table(path).to_pylist())
        hits = [p.pattern for p in patterns if p.search(content)]
        assert hits == [], f"{path.name} mentions {hits[:5]}"
    assert own.search((tmp_path / "marts" / "metrics_participation.csv").read_text())
    assert "Georgia" in files[0].read_text(encoding="utf-8")


@pytest.mark.deep
def test_partner_dashboard_renders(published, tmp_path):
    settings, _ = published
    html = write_dashboard(settings, partner="GEO", out=tmp_path / "d.html")
    result = open_page(html, tmp_path / "profile")
    assert result["requests"] == [] and 'data-ready="true"' in result["dom"]
    assert re.search(r'<pre id="errors" role="alert">\s*</pre>', result["dom"])
    assert tile_values(result["dom"])["participants"] > 0


def test_the_vega_bundle_is_made_once_and_then_read_from_the_cache(tmp_path):
    from txpipe.outputs.dashboard import vega_bundle

    vega_bundle.cache_clear()
    bundle = vega_bundle(tmp_path)
    [cached] = tmp_path.glob("vega-bundle-*.js")
    assert cached.read_text(encoding="utf-8") == bundle and "vegaEmbed" in bundle
    cached.write_text("/* from the cache */", encoding="utf-8")
    vega_bundle.cache_clear()
    assert vega_bundle(tmp_path) == "/* from the cache */"
    vega_bundle.cache_clear()


def test_run_report_completion_covers_courses_only(published):
    """The run report's completion table divides over education and training only, per partner framework."""
    from txpipe.outputs.reports import run_report_markdown
    from txpipe.warehouse.headline import read_headline

    _, warehouse = published
    headline = read_headline(warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        expected = dict(
            con.execute("""
            SELECT framework, sum(headcount) FILTER (WHERE status IN ('completed', 'passed')) / sum(headcount)
            FROM participation
            WHERE is_attended(status) AND is_partner(framework) AND programme IN ('education', 'training')
              AND year(start_date) = (SELECT max(year(start_date)) FROM participation WHERE is_attended(status))
            GROUP BY framework""").fetchall()
        )
    got = {row.framework: row.completion_rate for row in headline.completion}
    assert got.keys() == expected.keys() and all(got[k] == pytest.approx(expected[k]) for k in got)
    markdown = run_report_markdown([], kept_build_result(headline))
    assert "education and training only" in markdown
    assert f"{headline.completion[0].completion_rate:.1%}" in markdown


# ---- hostile values: every value the pages show is text, never markup or code ------------------

IMG_SOURCE = "<img src=x onerror=document.title='XSS'>"  # a source folder: a rejected delivery, shown in quality
BRACES_SOURCE = "x{{app}}"  # a source folder: once hit the page's str.replace chain
# iteration ids break a warning rule only, so the row is stored and shown; they are upper-cased when stored, so the
# attribute is written with character references that survive it (&#X64; is "d") and really sets the title.
IMG_ITERATION = '"><IMG SRC=X ONERROR=' + "".join(f"&#X{ord(c):X};" for c in "document.title='XSS'") + ">"
PLAIN_IMG_ITERATION = "\"><IMG SRC=X ONERROR=document.title='XSS'>"
COMMENT_ITERATION = "<!--<SCRIPT>"  # script-data escape states: once left the page blank
CLOSE_ITERATION = "</SCRIPT><SCRIPT>document.title='XSS'</SCRIPT>"
HOSTILE_ITERATIONS = (IMG_ITERATION, PLAIN_IMG_ITERATION, COMMENT_ITERATION, CLOSE_ITERATION)
TITLE = "Partnership training and exercise participation"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A warehouse whose data holds script and template payloads in shown values."""
    from tests.conftest import row, write_csv

    root = tmp_path_factory.mktemp("hostile")
    landing = root / "landing"
    rows = [
        row(source_record_id=f"C{i}", nation=nation, participant_ref=f"P-{i}", programme=programme)
        for i, (nation, programme) in enumerate(
            [("GEO", "education"), ("ARM", "education"), ("AZE", "training"), ("GEO", "training"), ("MDA", "training")]
        )
    ]
    rows += [
        row(
            source_record_id=f"X{i}",
            programme="exercise",
            activity_code="E1-401",
            iteration_id=iteration,
            activity_title="Exercise STEADFAST JACKAL",
            start_date="2024-06-03",
            end_date="2024-06-14",
            delivery_mode="field",
            nation="GEO",
            participant_ref="",
            headcount=str(5 + i),
            role="training_audience",
            status="attended",
            score="",
        )
        for i, iteration in enumerate(HOSTILE_ITERATIONS)
    ]
    write_csv(landing / "ptec" / "roster.csv", rows)
    for source in (IMG_SOURCE, BRACES_SOURCE):
        write_csv(landing / source / "roster.csv", [row()])
    mp = pytest.MonkeyPatch()
    mp.setenv("TXPIPE_HOME", str(root / "home"))
    mp.setenv("TXPIPE_PSEUDONYM_KEY", "dashboard")
    settings = Settings.from_env()
    records = ingest_all(settings, landing)
    assert sorted(r.status for r in records) == ["rejected", "rejected", "stored"]
    publish_warehouse(settings)
    yield settings
    mp.undo()


def hover_first_mark(html, chart: str, contains: str):
    """A copy of the page that, once drawn, moves the pointer over a mark of ``chart`` whose datum holds ``contains``,
    so vega-tooltip fills #vg-tooltip-element the way a user's hover does."""
    probe = f"""<script>
    setTimeout(() => {{
      const marks = [...document.querySelectorAll("#chart-{chart} [role=graphics-symbol]")]
        .filter((m) => JSON.stringify((m.__data__ || {{}}).datum || {{}}).includes({json.dumps(contains)}));
      const mark = marks[0];
      document.body.dataset.hovered = String(marks.length);
      if (!mark) return;
      const box = mark.getBoundingClientRect();
      const at = {{bubbles: true, clientX: box.x + box.width / 2, clientY: box.y + box.height / 2}};
      for (const type of ["pointerover", "pointermove", "mouseover", "mousemove"]) {{
        mark.dispatchEvent(type.startsWith("pointer") ? new PointerEvent(type, at) : new MouseEvent(type, at));
      }}
    }}, 3000);
    </script></body>"""
    copy = html.with_name(html.stem + "-hover.html")
    text = html.read_text(encoding="utf-8")
    head, tail = text.rsplit("</body>", 1)
    copy.write_text(head + probe + tail, encoding="utf-8")
    return copy


def cells(dom: str) -> list[str]:
    """The text of every table cell as the browser serialises it (text nodes: & < > escaped)."""
    return re.findall(r"<td[^>]*>(.*?)</td>", dom, re.S)


def outside_scripts(dom: str) -> str:
    return re.sub(r"<script\b[^>]*>.*?</script>", "", dom, flags=re.S | re.I)


def assert_inert(dom: str, title: str):
    """The payloads did not run, left no element behind, and the page was drawn (not blank)."""
    body = outside_scripts(dom)
    assert f"<title>{title}</title>" in body, "a payload changed document.title (it ran)"
    assert not re.search(r"<img\b", body, re.I), "a payload became an element"
    assert 'data-ready="true"' in body, "the page was left blank"
    assert re.search(r'<pre id="errors" role="alert">\s*</pre>', body), "the page reported a script error"
    tiles = tile_values(body)
    assert tiles.get("participants", 0) > 0, tiles


@pytest.mark.deep
def test_hostile_values_are_shown_as_text_and_never_run(hostile, tmp_path):
    html = write_dashboard(hostile, out=tmp_path / "dashboard.html")
    result = open_page(html, tmp_path / "profile")
    dom = result["dom"]
    assert_inert(dom, TITLE)
    shown = cells(dom)
    for value in (IMG_SOURCE, BRACES_SOURCE, *(i.upper() for i in HOSTILE_ITERATIONS)):
        assert html_escape(value, quote=False) in shown, f"{value!r} is not shown literally in a table cell"
    assert re.search(r'id="table-status"><table>.*?<td', dom, re.S)


@pytest.mark.deep
def test_hostile_values_in_the_partner_copy(hostile, tmp_path):
    html = write_dashboard(hostile, partner="GEO", out=tmp_path / "dashboard-GEO.html")
    dom = open_page(html, tmp_path / "profile")["dom"]
    assert_inert(dom, "Partnership participation: Georgia")
    shown = cells(dom)
    for value in (i.upper() for i in HOSTILE_ITERATIONS):  # iteration ids are stored upper-cased
        assert html_escape(value, quote=False) in shown, f"{value!r} is not shown literally in a table cell"


@pytest.mark.deep
def test_tooltips_show_hostile_values_as_text(hostile, tmp_path):
    html = write_dashboard(hostile, out=tmp_path / "dashboard.html")
    dom = open_page(hover_first_mark(html, "exercises", "IMG SRC"), tmp_path / "profile")["dom"]
    assert 'data-hovered="' in dom and 'data-hovered="0"' not in dom, "no exercise mark to hover"
    tooltip = re.search(r'<div id="vg-tooltip-element"[^>]*>(.*?)</div>', dom, re.S)
    assert tooltip, "hovering a mark showed no tooltip"
    assert "IMG SRC" in tooltip.group(1) and not re.search(r"<img", tooltip.group(1), re.I), tooltip.group(1)
    assert_inert(dom, TITLE)
