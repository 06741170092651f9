// Kong's services and routes: list (pages of 100), view, create, edit,
// delete.
import { call, get, path } from "./api.js";
import { h, confirmAction, link, tags, run, say } from "./dom.js";
import { entityForm } from "./forms.js";

const serviceFields = [
  { name: "name", kind: "text" },
  { name: "protocol", kind: "select", options: ["http", "https", "grpc", "grpcs", "tcp", "tls", "udp", "tls_passthrough", "ws", "wss"], default: "http" },
  { name: "host", kind: "text" },
  { name: "port", kind: "number" },
  { name: "path", kind: "text" },
  { name: "retries", kind: "number" },
  { name: "connect_timeout", kind: "number" },
  { name: "write_timeout", kind: "number" },
  { name: "read_timeout", kind: "number" },
  { name: "enabled", kind: "bool", default: true },
  { name: "tags", kind: "list", label: "tags (comma separated)" },
];

const routeFields = [
  { name: "name", kind: "text" },
  { name: "protocols", kind: "list", label: "protocols (comma separated)" },
  { name: "methods", kind: "list", label: "methods (comma separated)" },
  { name: "hosts", kind: "list", label: "hosts (comma separated)" },
  { name: "paths", kind: "list", label: "paths (comma separated)" },
  { name: "strip_path", kind: "bool", default: true },
  { name: "preserve_host", kind: "bool" },
  { name: "tags", kind: "list", label: "tags (comma separated)" },
];

// pagedTable lists a collection 100 at a time with Kong's offsets.
function pagedTable(url, headers, row) {
  const body = h("tbody");
  const prev = h("button", { type: "button", disabled: true }, "Previous page");
  const next = h("button", { type: "button", disabled: true }, "Next page");
  let offsets = [null];
  let current = 0;
  const load = (i) => run(async () => {
    const q = new URLSearchParams({ size: 100 });
    if (offsets[i]) q.set("offset", offsets[i]);
    const r = await get(`${url}?${q}`);
    body.replaceChildren(...r.data.map(row));
    if (!r.data.length) body.append(h("tr", {}, h("td", { colspan: headers.length, class: "muted" }, "None")));
    offsets = offsets.slice(0, i + 1);
    if (r.offset) offsets.push(r.offset);
    current = i;
    prev.disabled = i === 0;
    next.disabled = !r.offset;
  });
  prev.addEventListener("click", () => load(current - 1));
  next.addEventListener("click", () => load(current + 1));
  load(0);
  return [h("table", {}, h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))), body),
    h("div", { class: "pager" }, prev, next)];
}

function deleteButton(what, url, after) {
  return h("button", { type: "button", class: "danger", onclick: async () => {
    if (await confirmAction(`Delete ${what}?`, "Delete")) {
      run(async () => { await call("DELETE", url); location.hash = after; }, `${what} deleted`);
    }
  } }, `Delete ${what}`);
}

const routeRow = (r) => h("tr", {},
  h("td", {}, link(`#/routes/${r.id}`, r.name || r.id)),
  h("td", {}, (r.paths || []).join(", ")), h("td", {}, (r.hosts || []).join(", ")),
  h("td", {}, (r.methods || []).join(", ")), h("td", {}, tags(r.tags)));

export function servicesPage(main) {
  main.append(h("h1", {}, "Services"),
    h("p", {}, link("#/services/new", "Create a service")),
    ...pagedTable("services", ["Name", "Protocol", "Host", "Port", "Path", "Tags"], (s) => h("tr", {},
      h("td", {}, link(`#/services/${s.id}`, s.name || s.id)), h("td", {}, s.protocol), h("td", {}, s.host),
      h("td", {}, s.port), h("td", {}, s.path || ""), h("td", {}, tags(s.tags)))));
}

export function servicePage(main, id) {
  if (id === "new") {
    main.append(h("p", {}, link("#/services", "← Services")), h("h1", {}, "New service"),
      entityForm({ prefix: "service", fields: serviceFields, entity: null, submitLabel: "Create service",
        submit: (p) => call("POST", "services", p), onSaved: (s) => { location.hash = `#/services/${s.id}`; } }));
    return;
  }
  run(async () => {
    const s = await get(path("services", id));
    const label = s.name || s.id;
    main.append(h("p", {}, link("#/services", "← Services")), h("h1", {}, "Service ", label),
      entityForm({ prefix: "service", fields: serviceFields, entity: s, submitLabel: "Save service",
        submit: (p) => call("PATCH", path("services", s.id), p),
        onSaved: () => window.dispatchEvent(new HashChangeEvent("hashchange")) }),
      h("h2", {}, "Routes"),
      ...pagedTable(path("services", s.id, "routes"), ["Name", "Paths", "Hosts", "Methods", "Tags"], routeRow),
      h("h2", {}, "Add a route"),
      entityForm({ prefix: "new-route", fields: routeFields, entity: null, submitLabel: "Create route",
        submit: (p) => call("POST", path("services", s.id, "routes"), p),
        onSaved: (r) => { location.hash = `#/routes/${r.id}`; } }),
      h("h2", {}, "Danger zone"),
      deleteButton(`service ${label}`, path("services", s.id), "#/services"));
  });
}

export function routesPage(main) {
  main.append(h("h1", {}, "Routes"), h("p", { class: "muted" }, "Create a route from its service's page."),
    ...pagedTable("routes", ["Name", "Paths", "Hosts", "Methods", "Tags"], routeRow));
}

export function routePage(main, id) {
  run(async () => {
    const r = await get(path("routes", id));
    const label = r.name || r.id;
    main.append(h("p", {}, link("#/routes", "← Routes"),
      r.service ? [" · ", link(`#/services/${r.service.id}`, "its service")] : null),
    h("h1", {}, "Route ", label),
    entityForm({ prefix: "route", fields: routeFields, entity: r, submitLabel: "Save route",
      submit: (p) => call("PATCH", path("routes", r.id), p),
      onSaved: () => window.dispatchEvent(new HashChangeEvent("hashchange")) }),
    h("h2", {}, "Danger zone"),
    deleteButton(`route ${label}`, path("routes", r.id), "#/routes"));
  });
  say("");
}
