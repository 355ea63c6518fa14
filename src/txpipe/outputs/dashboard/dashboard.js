// txpipe dashboard: filters, headline tiles, charts (Vega-Lite through vegaEmbed) and tables.
// Everything it needs is inline in the page: the JSON element #txpipe-data holds the data and the chart specs.
// Every value is shown as a DOM text node (textContent, createElement), never as markup: no innerHTML here.
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("txpipe-data").textContent);
  const PARTNER = ["PFP", "MD", "ICI", "PAG", "IO"];
  const $ = (id) => document.getElementById(id);
  const fmt = (v, d = 0) => (v === null || v === undefined || Number.isNaN(v)) ? "–" :
    Number(v).toLocaleString("en-GB", {minimumFractionDigits: d, maximumFractionDigits: d});
  const pct = (v) => (v === null || v === undefined || !Number.isFinite(v)) ? "–" : fmt(100 * v, 1) + " %";
  const sum = (rows, key) => rows.reduce((a, r) => a + (Number(r[key]) || 0), 0);
  const ratio = (a, b) => b ? a / b : null;
  const state = {year: null, framework: "", programme: ""};

  function report(error) {
    const box = $("errors");
    box.textContent += String(error && error.stack || error) + "\n";
    box.style.display = "block";
  }
  window.addEventListener("error", (e) => report(e.error || e.message));

  function matches(row, useYear) {
    return (!useYear || row.year === state.year) &&
      (!state.framework || row.framework === state.framework) &&
      (!state.programme || row.programme === state.programme);
  }
  const partnerRows = (rows, useYear) => rows.filter((r) => PARTNER.includes(r.framework) && matches(r, useYear));

  // An element with a text child and properties (className, ...): values never become markup.
  function el(tag, text, props) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return Object.assign(node, props || {});
  }

  function options(id, values, all) {
    const select = $(id);
    select.replaceChildren(...(all ? [el("option", all, {value: ""})] : []),
      ...values.map((v) => el("option", v, {value: String(v)})));
  }

  // vega-tooltip writes its content as HTML: every value in it is escaped (its default escapes & and < only).
  const escapeHtml = (v) => String(v).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");

  // ---- tables --------------------------------------------------------------------------------
  function table(box, columns, rows) {
    let sortKey = null, ascending = true;
    function draw() {
      const sorted = sortKey === null ? rows : [...rows].sort((a, b) => {
        const x = a[sortKey], y = b[sortKey];
        const c = (typeof x === "number" && typeof y === "number") ? x - y : String(x ?? "").localeCompare(String(y ?? ""));
        return ascending ? c : -c;
      });
      const head = el("tr");
      columns.forEach((c) => {
        const th = el("th", c.label);
        th.dataset.key = c.key;
        th.setAttribute("aria-sort", c.key === sortKey ? (ascending ? "ascending" : "descending") : "none");
        th.addEventListener("click", () => {
          ascending = sortKey === c.key ? !ascending : false;
          sortKey = c.key;
          draw();
        });
        head.append(th);
      });
      const body = el("tbody");
      sorted.forEach((r) => {
        const tr = el("tr", null, {className: r._class || ""});
        columns.forEach((c) => {
          const v = r[c.key];
          const text = c.format ? c.format(v, r) : (typeof v === "number" ? fmt(v) : (v ?? ""));
          tr.append(el("td", text, {className: typeof v === "number" ? "n" : ""}));
        });
        body.append(tr);
      });
      const thead = el("thead"), tableEl = el("table");
      thead.append(head);
      tableEl.append(thead, body);
      box.replaceChildren(tableEl, ...(rows.length ? [] : [el("p", "No data for these filters.", {className: "muted"})]));
    }
    draw();
  }

  // ---- charts --------------------------------------------------------------------------------
  function chart(name, values, columns) {
    const spec = JSON.parse(JSON.stringify(D.specs[name]));
    const box = $("chart-" + name);
    spec.data = {values};
    spec.width = Math.max(240, (box.clientWidth || box.parentElement.clientWidth || 600) - 170);
    vegaEmbed(box, spec, {actions: false, renderer: "svg", tooltip: {sanitize: escapeHtml}}).catch(report);
    const alt = $("table-" + name);
    if (alt && columns.length) table(alt, columns, values);
  }

  // ---- tiles ---------------------------------------------------------------------------------
  function tile(id, value, previous, format, note) {
    const box = $(id);
    box.querySelector(".value").textContent = format(value);
    const delta = (value !== null && previous !== null && previous !== undefined) ? value - previous : null;
    const d = box.querySelector(".delta");
    d.textContent = delta === null ? `${state.year - 1}: –` :
      `${delta >= 0 ? "▲" : "▼"} ${format === pct ? fmt(Math.abs(100 * delta), 1) + " pts" : fmt(Math.abs(delta))} vs ${state.year - 1} (${format(previous)})`;
    d.className = "delta " + (delta > 0 ? "up" : delta < 0 ? "down" : "");
    box.querySelector(".note").textContent = note || "";
    box.dataset.value = value === null ? "" : String(value);
  }

  // ---- all partners' totals (partner copies) -----------------------------------------------------
  // Small-cell rule: the warehouse query withholds (null, withheld) a total over fewer than min_nations nations.
  // A total over several programmes is withheld when any of them is, since it would give that one back.
  const SMALL_CELL = `small-cell rule: a total over fewer than ${D.meta.min_nations} nations is withheld`;
  function partnerTotal(year, programme) {
    const cells = D.totals.filter((r) => r.year === year && (!programme || r.programme === programme));
    if (cells.some((r) => r.withheld)) return {value: null, withheld: true};
    return {value: cells.length ? sum(cells, "all_partner_participants") : null, withheld: false};
  }

  function totals() {
    const box = $("table-totals");
    if (!box) return;
    const rows = D.totals.filter((r) => r.year === state.year).map((r) => ({
      programme: r.programme, participants: r.all_partner_participants, nations: r.partner_nations, withheld: r.withheld,
      note: r.withheld ? `withheld: fewer than ${D.meta.min_nations} nations in this total` : ""}));
    if (rows.length) {
      const all = partnerTotal(state.year, "");
      rows.push({programme: "all programmes", participants: all.value, nations: null, withheld: all.withheld,
        note: all.withheld ? "withheld: a programme total of this year is withheld, and this total would give it back" : ""});
    }
    table(box, [{key: "programme", label: "programme"},
      {key: "participants", label: "all partners' participants", format: (v, r) => r.withheld ? "withheld" : fmt(v)},
      {key: "nations", label: "partner nations", format: (v) => v === null ? "" : fmt(v)},
      {key: "note", label: ""}], rows);
  }

  const COURSES = ["education", "training"];
  const courses = (rows) => rows.filter((r) => COURSES.includes(r.programme));

  function headline() {
    const figures = (year) => {
      const keep = (r) => r.year === year && PARTNER.includes(r.framework) &&
        (!state.framework || r.framework === state.framework) && (!state.programme || r.programme === state.programme);
      const part = D.participation.filter(keep), gender = D.gender.filter(keep), outcomes = D.outcomes.filter(keep);
      const engaged = new Set(part.filter((r) => r.participants > 0).map((r) => r.nation)).size;
      const active = sum(D.coverage.filter((r) => r.year === year && PARTNER.includes(r.framework) &&
        (!state.framework || r.framework === state.framework)), "active_partners");
      const known = sum(gender, "women") + sum(gender, "men") + sum(gender, "other");
      return {
        participants: part.length ? sum(part, "participants") : null,
        events: part.length ? sum(part, "participant_events") : null,
        engaged, active,
        women: ratio(sum(gender, "women"), known),
        coverage: ratio(known, known + sum(gender, "unknown")),
        // Completion is a course measure: education and training only (exercises have no completion).
        completion: ratio(sum(courses(outcomes), "completed") + sum(courses(outcomes), "passed"),
          sum(courses(outcomes), "attended_total")),
      };
    };
    const now = figures(state.year), before = figures(state.year - 1);
    let note = "attended headcount";
    if (D.meta.partner) {
      const total = partnerTotal(state.year, state.programme);
      note = "share of all partner participants: " + (total.withheld ? `withheld (${SMALL_CELL})` : pct(ratio(now.participants, total.value)));
    }
    tile("tile-participants", now.participants, before.participants, fmt, note);
    if (D.meta.partner) {
      tile("tile-engaged", now.events, before.events, fmt, "attended rows (courses, events, exercises)");
    } else {
      tile("tile-engaged", now.engaged, before.engaged, fmt, `of ${fmt(now.active)} active partners (${pct(ratio(now.engaged, now.active))})`);
    }
    tile("tile-women", now.women, before.women, pct, `sex recorded for ${pct(now.coverage)} of attended headcount`);
    tile("tile-completion", now.completion, before.completion, pct,
      state.programme === "exercise" ? "exercises have no completion" : "(completed + passed) / attended, education and training only");
  }

  // ---- sections ------------------------------------------------------------------------------
  function render() {
    try {
      headline();
      const partners = partnerRows(D.participation, false);
      const byPeriod = {};
      partners.forEach((r) => {
        const key = `${r.year}-Q${r.quarter}|${r.framework}`;
        byPeriod[key] = (byPeriod[key] || 0) + r.participants;
      });
      chart("trend", Object.entries(byPeriod).map(([k, v]) => ({period: k.split("|")[0], framework: k.split("|")[1], participants: v}))
        .sort((a, b) => a.period.localeCompare(b.period)),
        [{key: "period", label: "quarter"}, {key: "framework", label: "framework"}, {key: "participants", label: "participants"}]);

      const yearRows = D.participation.filter((r) => r.year === state.year && (!state.framework || r.framework === state.framework));
      const split = {};
      yearRows.forEach((r) => {
        const key = `${r.programme}|${r.framework || "none"}`;
        split[key] = (split[key] || 0) + r.participants;
      });
      chart("programme", Object.entries(split).map(([k, v]) => ({programme: k.split("|")[0], framework: k.split("|")[1], participants: v})),
        [{key: "programme", label: "programme"}, {key: "framework", label: "framework"}, {key: "participants", label: "participants"}]);

      const perNation = {};
      partnerRows(D.participation, true).forEach((r) => {
        const n = perNation[r.nation] || (perNation[r.nation] = {nation: r.nation, name: D.nations[r.nation] || r.nation,
          framework: r.framework, participants: 0, individuals: 0, participant_events: 0});
        n.participants += r.participants; n.individuals += r.individuals; n.participant_events += r.participant_events;
      });
      const top = Object.values(perNation).sort((a, b) => b.participants - a.participants);
      table($("table-partners"), [{key: "nation", label: "code"}, {key: "name", label: "partner"}, {key: "framework", label: "framework"},
        {key: "participants", label: "participants"}, {key: "individuals", label: "individuals"},
        {key: "participant_events", label: "attended rows"}], top);
      chart("partners", top.slice(0, 15), []);

      totals();
      const exercises = D.exercises.filter((r) => r.year === state.year).map((r) => ({...r, exercise: r.iteration_id || r.activity_code}));
      chart("exercises", exercises, D.meta.partner ?
        [{key: "exercise", label: "exercise"}, {key: "headcount", label: "headcount"}, {key: "training_audience_headcount", label: "training audience"},
         {key: "observer_headcount", label: "observers"}] :
        [{key: "exercise", label: "exercise"}, {key: "partner_nations", label: "partner nations"}, {key: "partner_headcount", label: "partner headcount"},
         {key: "training_audience_headcount", label: "training audience"}, {key: "observer_headcount", label: "observers"}]);
    } catch (error) { report(error); }
  }

  function renderQuality() {
    if (!D.quality) return;
    try {
      chart("status", D.quality.deliveries, [{key: "source", label: "source"}, {key: "status", label: "status"}, {key: "files", label: "files"}]);
      const share = {};
      D.quality.deliveries.filter((r) => r.status === "stored").forEach((r) => {
        const s = share[r.source] || (share[r.source] = {source: r.source, rows_read: 0, rows_quarantined: 0});
        s.rows_read += r.rows_read; s.rows_quarantined += r.rows_quarantined;
      });
      chart("share", Object.values(share).map((s) => ({...s, share: ratio(s.rows_quarantined, s.rows_read) || 0})),
        [{key: "source", label: "source"}, {key: "rows_quarantined", label: "quarantined"}, {key: "rows_read", label: "read"},
         {key: "share", label: "share", format: pct}]);
      const reasons = {};
      D.quality.reasons.forEach((r) => { reasons[r.reason] = (reasons[r.reason] || 0) + r.rows_quarantined; });
      chart("reasons", Object.entries(reasons).map(([reason, rows]) => ({reason, rows})).sort((a, b) => b.rows - a.rows).slice(0, 12),
        [{key: "reason", label: "rule"}, {key: "rows", label: "rows quarantined"}]);
      const warned = {};
      D.quality.warnings.forEach((r) => { warned[r.warning] = (warned[r.warning] || 0) + r.rows_stored; });
      chart("warnings", Object.entries(warned).map(([warning, rows]) => ({warning, rows})).sort((a, b) => b.rows - a.rows),
        [{key: "warning", label: "rule"}, {key: "rows", label: "rows stored"}]);
      const last = {};
      D.quality.deliveries.forEach((r) => { if (!last[r.source] || r.last_delivery > last[r.source]) last[r.source] = r.last_delivery; });
      const newest = Object.values(last).sort().pop();
      const days = (a, b) => Math.round((Date.parse(b) - Date.parse(a)) / 86400000);
      table($("table-freshness"), [{key: "source", label: "source"}, {key: "last_delivery", label: "last delivery"},
        {key: "days", label: "days before the newest"}, {key: "state", label: ""}],
        Object.entries(last).map(([source, date]) => {
          const behind = days(date, newest);
          return {source, last_delivery: date, days: behind, state: behind > D.meta.stale_days ? "stale" : "",
                  _class: behind > D.meta.stale_days ? "stale" : ""};
        }));
    } catch (error) { report(error); }
  }

  const years = [...new Set(D.participation.map((r) => r.year))].sort((a, b) => b - a);
  state.year = years[0] ?? new Date().getFullYear();
  options("filter-year", years, null);
  options("filter-framework", [...new Set(D.participation.map((r) => r.framework).filter(Boolean))].sort(), "all frameworks");
  options("filter-programme", ["education", "training", "exercise"], "all programmes");
  $("filter-year").addEventListener("change", (e) => { state.year = Number(e.target.value); render(); });
  $("filter-framework").addEventListener("change", (e) => { state.framework = e.target.value; render(); });
  $("filter-programme").addEventListener("change", (e) => { state.programme = e.target.value; render(); });
  render();
  renderQuality();
  document.body.dataset.ready = "true";
})();
