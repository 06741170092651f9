// Upstreams: one page of 100 at a time (the Admin API's offsets), by tag,
// or one upstream by exact name or id.
import { call, get, path } from "./api.js";
import { h, link, tags, run, say } from "./dom.js";

const pageSize = 100;

// summary fills a row's targets and weight cells from the balancer health.
async function summary(u, targetsCell, weightCell) {
  try {
    const r = await get(`${path("upstreams", u.id, "health")}?balancer_health=1`);
    const d = r.data.details;
    targetsCell.textContent = d.hosts.length;
    weightCell.textContent = `${d.weight.available} / ${d.weight.total}`;
  } catch (e) {
    weightCell.textContent = e.message;
  }
}

// fillSummaries runs summary for every row, six at a time.
async function fillSummaries(jobs) {
  const queue = [...jobs];
  const worker = async () => {
    while (queue.length) await queue.shift()();
  };
  await Promise.all(Array.from({ length: 6 }, worker));
}

export function upstreamsPage(main) {
  const body = h("tbody");
  const pageInfo = h("span", { class: "muted" });
  const prev = h("button", { type: "button", disabled: true }, "Previous page");
  const next = h("button", { type: "button", disabled: true }, "Next page");
  const name = h("input", { id: "search-name", type: "search", placeholder: "exact name or id" });
  const tag = h("input", { id: "search-tags", type: "search", placeholder: "tag1,tag2 (and) or tag1/tag2 (or)" });
  let offsets = [null];
  let nextOffset = null;

  const rows = (list) => {
    body.replaceChildren();
    const jobs = [];
    for (const u of list) {
      const targetsCell = h("td", { class: "num" }, "…");
      const weightCell = h("td", { class: "num" }, "…");
      body.append(h("tr", { "data-upstream": u.name },
        h("td", {}, link(`#/upstreams/${encodeURIComponent(u.name)}`, u.name)),
        h("td", {}, u.algorithm), targetsCell, weightCell, h("td", {}, tags(u.tags)),
        h("td", {}, link(`#/traffic/${encodeURIComponent(u.name)}`, "traffic"))));
      jobs.push(() => summary(u, targetsCell, weightCell));
    }
    if (!list.length) body.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No upstreams")));
    fillSummaries(jobs);
  };

  const load = (i) => run(async () => {
    if (name.value.trim()) {
      try {
        rows([await get(path("upstreams", name.value.trim()))]);
      } catch (e) {
        if (e.status !== 404) throw e;
        rows([]);
      }
      prev.disabled = next.disabled = true;
      pageInfo.textContent = "";
      return;
    }
    const q = new URLSearchParams({ size: pageSize });
    if (tag.value.trim()) q.set("tags", tag.value.trim());
    if (offsets[i]) q.set("offset", offsets[i]);
    const r = await get(`upstreams?${q}`);
    rows(r.data);
    nextOffset = r.offset || null;
    offsets = offsets.slice(0, i + 1);
    if (nextOffset) offsets.push(nextOffset);
    prev.disabled = i === 0;
    next.disabled = !nextOffset;
    pageInfo.textContent = `Page ${i + 1}`;
    current = i;
  });
  let current = 0;
  prev.addEventListener("click", () => load(current - 1));
  next.addEventListener("click", () => load(current + 1));

  const create = h("input", { id: "new-upstream", type: "text", placeholder: "new upstream name" });
  main.append(
    h("h1", {}, "Upstreams"),
    h("form", { class: "toolbar", role: "search", onsubmit: (e) => { e.preventDefault(); offsets = [null]; load(0); } },
      h("div", {}, h("label", { for: "search-name" }, "Name"), name),
      h("div", {}, h("label", { for: "search-tags" }, "Tags"), tag),
      h("button", { type: "submit" }, "Search")),
    h("table", {},
      h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Algorithm"), h("th", { class: "num" }, "Targets"),
        h("th", { class: "num" }, "Healthy / total weight"), h("th", {}, "Tags"), h("th", {}, "Live"))),
      body),
    h("div", { class: "pager" }, prev, pageInfo, next),
    h("h2", {}, "Create an upstream"),
    h("form", { class: "toolbar", onsubmit: (e) => {
      e.preventDefault();
      run(async () => {
        const u = await call("POST", "upstreams", { name: create.value.trim() });
        location.hash = `#/upstreams/${encodeURIComponent(u.name)}`;
      });
    } }, h("div", {}, h("label", { for: "new-upstream" }, "Name"), create), h("button", { type: "submit" }, "Create")),
  );
  say("Loading…");
  load(0).then(() => { if (!document.getElementById("status").classList.contains("error")) say(""); });
}
