// Live traffic of one upstream: requests per second, error rate and
// latency per address over the last five minutes, from the stats stream's
// cumulative counters (rates are differences of two snapshots). The history
// lives in this page only: it starts when the page opens.
import { get, path, stream } from "./api.js";
import { h, badge, link, say } from "./dom.js";

const windowSeconds = 300;
const svgNS = "http://www.w3.org/2000/svg";

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

// drawChart plots series ({key, cls, points: [[t, v]]}) over the window.
function drawChart(el, series, now, format) {
  const W = 400, H = 160, left = 44, bottom = 18;
  let max = 0;
  for (const s of series) for (const [, v] of s.points) max = Math.max(max, v);
  max = max > 0 ? max * 1.1 : 1;
  const x = (t) => left + ((t - (now - windowSeconds)) / windowSeconds) * (W - left - 4);
  const y = (v) => 4 + (1 - v / max) * (H - bottom - 8);
  el.replaceChildren(
    svg("line", { class: "axis", x1: left, y1: y(0), x2: W - 4, y2: y(0) }),
    svg("line", { class: "axis", x1: left, y1: 4, x2: left, y2: y(0) }),
    svg("text", { x: 2, y: 12 }, format(max)),
    svg("text", { x: 2, y: y(0) }, "0"),
    svg("text", { x: left, y: H - 4 }, "−5 min"),
    svg("text", { x: W - 30, y: H - 4 }, "now"),
    ...series.filter((s) => s.points.length > 1).map((s) => svg("polyline", {
      class: s.cls, "data-series": s.key,
      points: s.points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" "),
    })));
}

function figure(title, id) {
  const chart = svg("svg", { class: "chart", viewBox: "0 0 400 160", role: "img", "aria-label": title, id });
  return [h("figure", {}, h("figcaption", {}, title), chart), chart];
}

export function trafficPage(main, name) {
  if (!name) {
    const list = h("ul");
    main.append(h("h1", {}, "Live traffic"), h("p", {}, "Choose an upstream:"), list);
    get("upstreams?size=100").then((r) => {
      for (const u of r.data) list.append(h("li", {}, link(`#/traffic/${encodeURIComponent(u.name)}`, u.name)));
      if (r.offset) list.append(h("li", { class: "muted" }, "… more on the Upstreams page (search by name)"));
    }).catch((e) => say(e.message, true));
    return null;
  }
  const [rpsFig, rpsChart] = figure("Requests per second", "chart-rps");
  const [errFig, errChart] = figure("Error rate (%)", "chart-errors");
  const [latFig, latChart] = figure("Latency (ms, to response headers)", "chart-latency");
  const legend = h("tbody");
  main.append(
    h("p", {}, link(`#/upstreams/${encodeURIComponent(name)}`, `← Upstream ${name}`)),
    h("h1", {}, "Live traffic of ", name),
    h("div", { class: "charts" }, rpsFig, errFig, latFig),
    h("h2", {}, "Now (last second)"),
    h("table", { id: "traffic-legend" },
      h("thead", {}, h("tr", {}, h("th", {}, "Target / address"), h("th", { class: "num" }, "Weight"), h("th", {}, "Health"),
        h("th", { class: "num" }, "Req/s"), h("th", { class: "num" }, "Share"), h("th", { class: "num" }, "Errors"),
        h("th", { class: "num" }, "Latency"), h("th", { class: "num" }, "In flight"))),
      legend),
    h("p", { class: "muted" }, "Counters are this node's; the history starts when the page opens."));

  const history = new Map(); // address key -> {cls, rps, err, lat: [[t, v]]}
  let last = null; // previous snapshot: {time, counters by key}
  const onData = (snapshot) => {
    const now = snapshot.data.time;
    const counters = new Map();
    const rows = [];
    let total = 0;
    for (const t of snapshot.data.targets) {
      for (const a of t.addresses) {
        const key = `${a.ip}:${a.port}`;
        counters.set(key, a);
        if (!history.has(key)) history.set(key, { cls: `s${history.size % 6}`, rps: [], err: [], lat: [] });
        const hist = history.get(key);
        const prev = last && last.counters.get(key);
        let rps = 0, errPct = 0, latMs = 0;
        if (prev && now > last.time) {
          const dt = now - last.time, dn = a.requests - prev.requests;
          rps = dn / dt;
          errPct = dn > 0 ? ((a.errors - prev.errors) / dn) * 100 : 0;
          latMs = dn > 0 ? ((a.latency_seconds - prev.latency_seconds) / dn) * 1000 : 0;
          hist.rps.push([now, rps]);
          hist.err.push([now, errPct]);
          if (dn > 0) hist.lat.push([now, latMs]);
        }
        for (const k of ["rps", "err", "lat"]) while (hist[k].length && hist[k][0][0] < now - windowSeconds) hist[k].shift();
        total += rps;
        rows.push({ t, a, key, hist, rps, errPct, latMs });
      }
    }
    last = { time: now, counters };
    const series = (k) => rows.map((r) => ({ key: r.key, cls: r.hist.cls, points: r.hist[k] }));
    drawChart(rpsChart, series("rps"), now, (v) => v.toFixed(v < 10 ? 1 : 0));
    drawChart(errChart, series("err"), now, (v) => `${v.toFixed(0)}%`);
    drawChart(latChart, series("lat"), now, (v) => `${v.toFixed(v < 10 ? 1 : 0)}`);
    legend.replaceChildren(...rows.map((r) => h("tr", { "data-target": r.t.target, "data-address": r.key },
      h("td", {}, h("span", { class: `swatch ${r.hist.cls}`, "aria-hidden": "true" }), r.t.target,
        r.key !== r.t.target ? h("span", { class: "muted" }, ` (${r.key})`) : null),
      h("td", { class: "num" }, r.a.weight),
      h("td", {}, badge(r.a.health)),
      h("td", { class: "num" }, r.rps.toFixed(1)),
      h("td", { class: "num share" }, total > 0 ? `${Math.round((r.rps / total) * 100)}%` : "–"),
      h("td", { class: "num" }, `${r.errPct.toFixed(1)}%`),
      h("td", { class: "num" }, r.latMs ? `${r.latMs.toFixed(1)} ms` : "–"),
      h("td", { class: "num" }, r.a.in_flight))));
  };
  return stream(path("upstreams", name, "stats"), onData, (gone) => say(`Upstream gone: ${gone.message}`, true));
}
