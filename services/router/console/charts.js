// Charts for the AOS console's live view (docs/console.md): a Prometheus text parser, per-agent
// rates and histogram percentiles between samples, and hand-written SVG line charts. No library.
// Labels and legends are text nodes; nothing from the data is parsed as markup.
"use strict";

window.Charts = (function () {
  const SVG = "http://www.w3.org/2000/svg";
  const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"];

  // "name{a=\"x\",b=\"y\"} 12" lines -> {name: [{labels: {a, b}, value}]}. Comments skipped.
  function parsePrometheus(text) {
    const out = {};
    for (const line of text.split("\n")) {
      if (!line || line[0] === "#") continue;
      const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/);
      if (!m) continue;
      const labels = {};
      if (m[2]) {
        for (const l of m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
          labels[l[1]] = l[2].replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
        }
      }
      const v = m[3] === "+Inf" ? Infinity : Number(m[3]);
      (out[m[1]] = out[m[1]] || []).push({ labels, value: v });
    }
    return out;
  }

  function sumBy(snap, name, agent, filter) {
    let s = 0;
    for (const x of snap[name] || []) if (x.labels.agent === agent && (!filter || filter(x.labels))) s += x.value;
    return s;
  }

  function agentsOf(snap) {
    const set = new Set();
    for (const n of ["aos_router_agent_turns_total", "aos_router_agent_turn_duration_seconds_count", "aos_router_routed_total"])
      for (const x of snap[n] || []) if (x.labels.agent) set.add(x.labels.agent);
    return [...set].sort();
  }

  // Cumulative buckets of one agent's latency histogram: [[le, count], …] sorted by le.
  function buckets(snap, agent) {
    return (snap.aos_router_agent_turn_duration_seconds_bucket || [])
      .filter((x) => x.labels.agent === agent)
      .map((x) => [x.labels.le === "+Inf" ? Infinity : Number(x.labels.le), x.value])
      .sort((a, b) => a[0] - b[0]);
  }

  // The q-quantile of the observations between two cumulative bucket sets (as Prometheus'
  // histogram_quantile: linear within the bucket; the +Inf bucket answers its lower bound).
  function quantile(q, prev, cur) {
    const d = cur.map(([le, c], i) => [le, c - (prev && prev[i] ? prev[i][1] : 0)]);
    const total = d.length ? d[d.length - 1][1] : 0;
    if (total <= 0) return null;
    const rank = q * total;
    let lowerLe = 0, lowerCount = 0;
    for (const [le, c] of d) {
      if (c >= rank) {
        if (le === Infinity) return lowerLe;
        return lowerLe + (le - lowerLe) * ((rank - lowerCount) / Math.max(c - lowerCount, 1e-9));
      }
      lowerLe = le;
      lowerCount = c;
    }
    return lowerLe;
  }

  const isError = (l) => l.result === "error" || l.result === "timeout";

  // samples: [{t, snap}] oldest first -> per-agent series of rate, p95 and error rate.
  function agentSeries(samples) {
    const out = { rate: [], p95: [], errRate: [], latest: {} };
    const last = samples[samples.length - 1];
    const agents = last ? agentsOf(last.snap) : [];
    for (const a of agents) {
      const rate = [], p95 = [], err = [];
      for (let i = 1; i < samples.length; i++) {
        const p = samples[i - 1], c = samples[i];
        const dt = (c.t - p.t) / 1000;
        if (dt <= 0) continue;
        const dn = sumBy(c.snap, "aos_router_agent_turns_total", a) - sumBy(p.snap, "aos_router_agent_turns_total", a);
        const de = sumBy(c.snap, "aos_router_agent_turns_total", a, isError) - sumBy(p.snap, "aos_router_agent_turns_total", a, isError);
        rate.push([c.t, Math.max(dn, 0) / dt]);
        err.push([c.t, Math.max(de, 0) / dt]);
        p95.push([c.t, quantile(0.95, buckets(p.snap, a), buckets(c.snap, a))]);
      }
      out.rate.push({ name: a, points: rate });
      out.p95.push({ name: a, points: p95 });
      out.errRate.push({ name: a, points: err });
      // percentiles over the window on screen; before it saw a turn, since the router started
      const first = samples.length > 1 ? buckets(samples[0].snap, a) : null, cb = buckets(last.snap, a);
      const pq = (q) => quantile(q, first, cb) ?? quantile(q, null, cb);
      out.latest[a] = {
        rate: rate.length ? rate[rate.length - 1][1] : 0,
        errRate: err.length ? err[err.length - 1][1] : 0,
        p50: pq(0.5),
        p95: pq(0.95),
        p99: pq(0.99),
        total: sumBy(last.snap, "aos_router_agent_turns_total", a),
        errors: sumBy(last.snap, "aos_router_agent_turns_total", a, isError),
      };
    }
    return out;
  }

  function node(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = String(text);
    return e;
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  function fmt(v) {
    if (v === 0) return "0";
    if (Math.abs(v) >= 100) return v.toFixed(0);
    if (Math.abs(v) >= 1) return v.toFixed(1);
    return v.toPrecision(2);
  }

  // A line chart of series [{name, points: [[t, v|null], …]}] as an <svg> element.
  function line(series, opts) {
    const W = 460, H = 200, L = 48, R = 10, T = 10, B = 24;
    const svg = node("svg", { viewBox: `0 0 ${W} ${H + 20 + 16 * Math.ceil(series.length / 3)}`, role: "img", class: "chart" });
    if (opts && opts.id) svg.setAttribute("id", opts.id);
    const pts = series.flatMap((s) => s.points.filter((p) => p[1] !== null && Number.isFinite(p[1])));
    const title = node("title", {}, series.length ? series.map((s) => {
      const p = s.points.filter((x) => x[1] !== null);
      return s.name + ": " + (p.length ? fmt(p[p.length - 1][1]) : "—") + (opts.unit || "");
    }).join("; ") : "no data yet");
    svg.appendChild(title);
    const tMin = pts.length ? Math.min(...pts.map((p) => p[0])) : 0;
    const tMax = pts.length ? Math.max(...pts.map((p) => p[0])) : 1;
    const vMax = niceMax(pts.length ? Math.max(...pts.map((p) => p[1])) : 0);
    const x = (t) => L + (tMax > tMin ? ((t - tMin) / (tMax - tMin)) * (W - L - R) : W - L - R);
    const y = (v) => T + (1 - v / vMax) * (H - T - B);
    for (let i = 0; i <= 4; i++) {
      const v = (vMax * i) / 4;
      svg.appendChild(node("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#ddd", "stroke-width": 1 }));
      svg.appendChild(node("text", { x: L - 4, y: y(v) + 4, "text-anchor": "end", "font-size": 10, fill: "#555" }, fmt(v)));
    }
    svg.appendChild(node("line", { x1: L, x2: L, y1: T, y2: H - B, stroke: "#888" }));
    if (pts.length) {
      const span = Math.round((tMax - tMin) / 1000);
      svg.appendChild(node("text", { x: L, y: H - 6, "font-size": 10, fill: "#555" }, "−" + span + " s"));
      svg.appendChild(node("text", { x: W - R, y: H - 6, "font-size": 10, fill: "#555", "text-anchor": "end" }, "now"));
    } else {
      svg.appendChild(node("text", { x: (W + L) / 2, y: H / 2, "font-size": 12, fill: "#777", "text-anchor": "middle" }, "collecting samples…"));
    }
    series.forEach((s, i) => {
      const color = COLORS[i % COLORS.length];
      const p = s.points.filter((q) => q[1] !== null && Number.isFinite(q[1]));
      if (p.length > 1) {
        svg.appendChild(node("polyline", {
          points: p.map((q) => x(q[0]).toFixed(1) + "," + y(q[1]).toFixed(1)).join(" "),
          fill: "none", stroke: color, "stroke-width": 2, "stroke-linejoin": "round",
        }));
      } else if (p.length === 1) {
        svg.appendChild(node("circle", { cx: x(p[0][0]), cy: y(p[0][1]), r: 3, fill: color }));
      }
      const lx = L + (i % 3) * 140, ly = H + 16 + 16 * Math.floor(i / 3);
      svg.appendChild(node("rect", { x: lx, y: ly - 9, width: 10, height: 10, fill: color }));
      svg.appendChild(node("text", { x: lx + 14, y: ly, "font-size": 11, fill: "#222" }, s.name));
    });
    return svg;
  }

  return { parsePrometheus, agentSeries, quantile, line };
})();
