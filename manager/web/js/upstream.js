// One upstream: its fields (edited with Kong's errors next to each field)
// and its targets with weight and per-address health, live from the
// stats stream (one snapshot a second).
import { call, get, path, stream } from "./api.js";
import { h, badge, confirmAction, link, run, say } from "./dom.js";
import { entityForm } from "./forms.js";

const hashOn = ["none", "consumer", "ip", "header", "cookie", "path", "query_arg", "uri_capture"];

export const upstreamFields = [
  { name: "name", kind: "text" },
  { name: "algorithm", kind: "select", options: ["round-robin", "consistent-hashing", "least-connections", "latency", "sticky-sessions"] },
  { name: "slots", kind: "number" },
  { name: "hash_on", kind: "select", options: hashOn },
  { name: "hash_fallback", kind: "select", options: hashOn },
  { name: "hash_on_header", kind: "text" },
  { name: "hash_on_cookie", kind: "text" },
  { name: "host_header", kind: "text" },
  { name: "tags", kind: "list", label: "tags (comma separated)" },
  { name: "healthchecks", kind: "json", label: "healthchecks (JSON)" },
];

// targetRow is a live table row for one target.
function targetRow(u, t) {
  const weight = h("input", { class: "weight-input", type: "text", inputmode: "numeric", value: t.weight,
    "aria-label": `weight of ${t.target}` });
  const health = h("td", { class: "health" });
  const act = (label, fn, cls) => h("button", { type: "button", class: cls, onclick: fn }, label);
  const tpath = (...rest) => path("upstreams", u, "targets", t.id, ...rest);
  const byName = (state) => path("upstreams", u, "targets", t.target, state);
  const row = h("tr", { "data-target": t.target },
    h("td", {}, t.target),
    h("td", {}, h("form", { class: "actions", onsubmit: (e) => {
      e.preventDefault();
      const w = Number.isFinite(Number(weight.value)) ? Number(weight.value) : weight.value;
      run(() => call("PATCH", tpath(), { weight: w }), `${t.target}: weight ${weight.value}`);
    } }, weight, h("button", { type: "submit" }, "Save"))),
    health,
    h("td", {}, h("div", { class: "actions" },
      act("Drain", async () => {
        if (await confirmAction(`Drain ${t.target}? Its weight becomes 0 and it takes no new requests.`, "Drain")) {
          run(() => call("PATCH", tpath(), { weight: 0 }), `${t.target} drained`);
        }
      }),
      act("Mark healthy", () => run(() => call("PUT", byName("healthy")), `${t.target} marked healthy`)),
      act("Mark unhealthy", () => run(() => call("PUT", byName("unhealthy")), `${t.target} marked unhealthy`)),
      act("Delete", async () => {
        if (await confirmAction(`Delete target ${t.target}?`, "Delete")) {
          run(() => call("DELETE", tpath()), `${t.target} deleted`);
        }
      }, "danger"))));
  row.update = (nt) => {
    if (document.activeElement !== weight && String(nt.weight) !== row.dataset.weight) weight.value = nt.weight;
    row.dataset.weight = String(nt.weight);
    row.dataset.health = nt.health;
    health.replaceChildren(badge(nt.health), ...nt.addresses.map((a) =>
      h("div", { class: "muted" }, `${a.ip}:${a.port} `, badge(a.health))));
  };
  row.update(t);
  return row;
}

export function upstreamPage(main, name) {
  let close = null;
  const body = h("tbody");
  const rows = new Map();
  const render = (snapshot) => {
    const seen = new Set();
    for (const t of snapshot.data.targets) {
      seen.add(t.id);
      let row = rows.get(t.id);
      if (!row) {
        row = targetRow(name, t);
        rows.set(t.id, row);
      }
      row.update(t);
      body.append(row); // keeps the API's order (oldest first)
    }
    for (const [id, row] of rows) {
      if (!seen.has(id)) { row.remove(); rows.delete(id); }
    }
  };
  const newTarget = h("input", { id: "new-target", type: "text", placeholder: "host:port" });
  const newWeight = h("input", { id: "new-weight", type: "text", inputmode: "numeric", value: "100", class: "weight-input" });
  const addError = h("p", { class: "field-error", id: "new-target-error" });

  run(async () => {
    const u = await get(path("upstreams", name));
    const form = entityForm({
      prefix: "upstream", fields: upstreamFields, entity: u, submitLabel: "Save upstream",
      submit: (payload) => call("PATCH", path("upstreams", u.id), payload),
      onSaved: (saved) => {
        if (saved.name !== name) location.hash = `#/upstreams/${encodeURIComponent(saved.name)}`;
        else window.dispatchEvent(new HashChangeEvent("hashchange")); // the router renders the page anew
      },
    });
    main.append(
      h("p", {}, link("#/upstreams", "← Upstreams"), " · ", link(`#/traffic/${encodeURIComponent(u.name)}`, "Live traffic")),
      h("h1", {}, "Upstream ", h("span", { id: "upstream-name" }, u.name)),
      h("h2", {}, "Targets ", h("span", { class: "muted" }, "(live)")),
      h("table", { id: "targets" },
        h("thead", {}, h("tr", {}, h("th", {}, "Target"), h("th", {}, "Weight"), h("th", {}, "Health (per address)"), h("th", {}, "Actions"))),
        body),
      h("form", { class: "toolbar", id: "add-target", onsubmit: (e) => {
        e.preventDefault();
        addError.textContent = "";
        const w = Number.isFinite(Number(newWeight.value)) ? Number(newWeight.value) : newWeight.value;
        call("POST", path("upstreams", u.id, "targets"), { target: newTarget.value.trim(), weight: w })
          .then((t) => { say(`${t.target} added`); newTarget.value = ""; })
          .catch((err) => {
            addError.textContent = Object.values(err.fields || {}).join("; ") || err.message;
            say(err.message, true);
          });
      } },
        h("div", {}, h("label", { for: "new-target" }, "Target"), newTarget),
        h("div", {}, h("label", { for: "new-weight" }, "Weight"), newWeight),
        h("button", { type: "submit" }, "Add target"), addError),
      h("h2", {}, "Fields"),
      form);
    close = stream(`${path("upstreams", u.id, "stats")}`, render, (gone) => say(`Upstream gone: ${gone.message}`, true));
  });
  return () => { if (close) close(); };
}
