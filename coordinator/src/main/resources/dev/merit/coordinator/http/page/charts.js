// SVG charts drawn by hand: horizontal bars per tensor, a score line per version and a commit graph.
// Every chart carries a title and per-mark <title> text, so values never depend on colour alone.
"use strict";
(function () {
  const NS = "http://www.w3.org/2000/svg";

  function svg(tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function root(width, height, label, cls) {
    const s = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, class: cls || "chart" });
    s.appendChild(svg("title", {}, label));
    return s;
  }

  function fmt(v) {
    if (v === null || v === undefined || Number.isNaN(v)) return "n/a";
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
    return v.toPrecision(3);
  }

  // items: [{label, value}] -> horizontal bars scaled to the largest value
  function bars(title, items, opts) {
    const o = opts || {};
    const labelW = 110, barW = 220, valueW = 70, row = 22, top = 24;
    const width = labelW + barW + valueW, height = top + row * Math.max(items.length, 1) + 6;
    const s = root(width, height, title);
    s.appendChild(svg("text", { x: 0, y: 14, "font-weight": 600 }, title));
    const max = Math.max(...items.map(i => (Number.isFinite(i.value) ? i.value : 0)), 0);
    items.forEach((it, n) => {
      const y = top + n * row;
      const label = it.label.length > 16 ? it.label.slice(0, 15) + "\u2026" : it.label;
      s.appendChild(svg("text", { x: labelW - 6, y: y + 15, "text-anchor": "end" }, label));
      const v = Number.isFinite(it.value) ? it.value : 0;
      const w = max > 0 ? Math.max(1, (v / max) * barW) : 1;
      const bar = svg("rect", { x: labelW, y: y + 3, width: w, height: row - 7, class: "bar " + (o.cls || "") });
      bar.appendChild(svg("title", {}, `${it.label}: ${fmt(it.value)}`));
      s.appendChild(bar);
      s.appendChild(svg("text", { x: labelW + w + 4, y: y + 15, class: "value" }, fmt(it.value)));
    });
    s.appendChild(svg("line", { x1: labelW, y1: top, x2: labelW, y2: height - 4, class: "axis" }));
    return s;
  }

  // points: [{label, x, y}] in x order -> a line with dots; y axis from min to max
  function line(title, points) {
    const width = 640, height = 220, left = 56, right = 16, top = 28, bottom = 30;
    const s = root(width, height, title);
    s.appendChild(svg("text", { x: 0, y: 14, "font-weight": 600 }, title));
    const ys = points.map(p => p.y);
    let lo = Math.min(...ys), hi = Math.max(...ys);
    if (lo === hi) { lo -= 1; hi += 1; }
    const xs = points.map(p => p.x);
    const x0 = Math.min(...xs), x1 = Math.max(...xs) === x0 ? x0 + 1 : Math.max(...xs);
    const px = x => left + ((x - x0) / (x1 - x0)) * (width - left - right);
    const py = y => top + (1 - (y - lo) / (hi - lo)) * (height - top - bottom);
    for (const t of [lo, (lo + hi) / 2, hi]) {
      s.appendChild(svg("line", { x1: left, x2: width - right, y1: py(t), y2: py(t), class: "grid" }));
      s.appendChild(svg("text", { x: left - 4, y: py(t) + 4, "text-anchor": "end" }, fmt(t)));
    }
    s.appendChild(svg("line", { x1: left, y1: top, x2: left, y2: height - bottom, class: "axis" }));
    s.appendChild(svg("line", { x1: left, y1: height - bottom, x2: width - right, y2: height - bottom, class: "axis" }));
    s.appendChild(svg("path", { d: points.map((p, i) => `${i ? "L" : "M"}${px(p.x)},${py(p.y)}`).join(" "), class: "line" }));
    points.forEach(p => {
      const c = svg("circle", { cx: px(p.x), cy: py(p.y), r: 4, class: "pt" });
      c.appendChild(svg("title", {}, `${p.label}: ${fmt(p.y)}`));
      s.appendChild(c);
      s.appendChild(svg("text", { x: px(p.x), y: height - bottom + 16, "text-anchor": "middle" }, p.label));
    });
    return s;
  }

  // commits: newest first, each {id, parents:[ids], label} -> lanes and edges to parents
  function graph(title, commits) {
    const row = 30, lane = 22, left = 14;
    const lanes = [], pos = new Map();
    commits.forEach((c, r) => {
      let l = lanes.indexOf(c.id);
      if (l < 0) { l = lanes.indexOf(null); if (l < 0) { l = lanes.length; lanes.push(null); } }
      pos.set(c.id, { x: left + l * lane, y: 15 + r * row });
      for (let i = 0; i < lanes.length; i++) if (lanes[i] === c.id) lanes[i] = null;
      c.parents.forEach((p, i) => {
        if (lanes.includes(p)) return;
        if (i === 0) lanes[l] = p;
        else { const f = lanes.indexOf(null); if (f < 0) lanes.push(p); else lanes[f] = p; }
      });
    });
    const width = 760, height = 15 + commits.length * row;
    const s = root(width, height, title, "chart graph");
    const textX = left + Math.max(lanes.length, 1) * lane + 10;
    commits.forEach(c => {
      const a = pos.get(c.id);
      c.parents.forEach(p => {
        const b = pos.get(p);
        if (!b) return;
        const d = a.x === b.x ? `M${a.x},${a.y} L${b.x},${b.y}` : `M${a.x},${a.y} C${a.x},${a.y + row} ${b.x},${b.y - row} ${b.x},${b.y}`;
        s.appendChild(svg("path", { d, class: "edge" }));
      });
    });
    commits.forEach(c => {
      const a = pos.get(c.id);
      const dot = svg("circle", { cx: a.x, cy: a.y, r: 6, class: "commit" + (c.parents.length > 1 || c.merge ? " merge" : "") });
      dot.appendChild(svg("title", {}, c.label));
      s.appendChild(dot);
      s.appendChild(svg("text", { x: textX, y: a.y + 4 }, c.label));
    });
    return s;
  }

  window.MeritCharts = { bars, line, graph, fmt };
})();
