// Small DOM helpers shared by the pages.

// h builds an element: h("a", {href: "#"}, "text", child, ...). Attributes
// starting with "on" are event listeners; null and false are skipped.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// say shows a message in the status bar (an error in red).
export function say(text, isError = false) {
  const s = document.getElementById("status");
  s.textContent = text;
  s.classList.toggle("error", isError);
}

// confirmAction asks in a modal dialog and resolves to true on Confirm.
export function confirmAction(text, okLabel = "Confirm") {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = okLabel;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

// tags renders a tag list.
export function tags(list) {
  return h("span", { class: "tags" }, (list || []).map((t) => h("span", {}, t)));
}

// badge renders a health value.
export function badge(health) {
  return h("span", { class: `badge ${health}` }, health.toLowerCase().replace("_", " "));
}

// link builds an in-app link.
export function link(hash, text) {
  return h("a", { href: hash }, text);
}

// run calls fn and shows a KongError (or any error) in the status bar.
export async function run(fn, done) {
  try {
    await fn();
    if (done) say(done);
  } catch (e) {
    say(e.message, true);
  }
}
