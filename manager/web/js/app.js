// The page's router: the location hash names the view.
import { say } from "./dom.js";
import { upstreamsPage } from "./upstreams.js";
import { upstreamPage } from "./upstream.js";
import { trafficPage } from "./traffic.js";
import { servicesPage, servicePage, routesPage, routePage } from "./services.js";

const views = [
  [/^#\/upstreams\/([^/]+)$/, upstreamPage, "upstreams"],
  [/^#\/upstreams$/, upstreamsPage, "upstreams"],
  [/^#\/traffic(?:\/([^/]+))?$/, trafficPage, "traffic"],
  [/^#\/services\/([^/]+)$/, servicePage, "services"],
  [/^#\/services$/, servicesPage, "services"],
  [/^#\/routes\/([^/]+)$/, routePage, "routes"],
  [/^#\/routes$/, routesPage, "routes"],
];

let cleanup = null;

function show() {
  const hash = location.hash || "#/upstreams";
  if (cleanup) cleanup();
  cleanup = null;
  say("");
  const main = document.getElementById("view");
  main.replaceChildren();
  for (const [re, view, nav] of views) {
    const m = hash.match(re);
    if (!m) continue;
    for (const a of document.querySelectorAll("nav a")) {
      if (a.dataset.nav === nav) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    const params = m.slice(1).map((p) => (p === undefined ? undefined : decodeURIComponent(p)));
    cleanup = view(main, ...params) || null;
    return;
  }
  location.hash = "#/upstreams";
}

window.addEventListener("hashchange", show);
show();
