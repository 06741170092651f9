// Entity forms: fields described once, Kong's field errors shown next to
// the field they name.
import { h, say } from "./dom.js";
import { KongError } from "./api.js";

// Field kinds: text, number, select (options), bool, list (comma
// separated), json (a textarea holding an object).

function inputFor(f, value, id) {
  const common = { id, name: f.name, "aria-describedby": `${id}-error` };
  switch (f.kind) {
    case "select":
      return h("select", common, f.options.map((o) => h("option", { value: o, selected: o === value }, o)));
    case "bool":
      return h("input", { ...common, type: "checkbox", checked: !!value });
    case "json":
      return h("textarea", { ...common, spellcheck: "false" }, value == null ? "" : JSON.stringify(value, null, 2));
    case "list":
      return h("input", { ...common, type: "text", value: (value || []).join(", ") });
    default:
      return h("input", { ...common, type: "text", inputmode: f.kind === "number" ? "numeric" : null, value: value == null ? "" : value });
  }
}

// readField returns the field's value as the API takes it; a number field
// that does not parse is sent as typed, for Kong to reject by name.
function readField(f, el) {
  const raw = el.value;
  switch (f.kind) {
    case "bool": return el.checked;
    case "list": return raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
    case "json":
      if (raw.trim() === "") return null;
      try { return JSON.parse(raw); } catch { throw new Error(`${f.name}: not valid JSON`); }
    case "number":
      if (raw.trim() === "") return null;
      return Number.isFinite(Number(raw)) ? Number(raw) : raw;
    default: return raw === "" ? null : raw;
  }
}

// entityForm renders fields for entity (null to create) and calls
// submit(payload) with the changed fields (all set ones when creating).
// Kong's errors land next to their fields; submit's result is passed to
// onSaved.
export function entityForm({ prefix, fields, entity, submitLabel, submit, onSaved }) {
  const inputs = new Map();
  const errors = new Map();
  const grid = h("div", { class: "fields" });
  for (const f of fields) {
    const id = `${prefix}-${f.name}`;
    const input = inputFor(f, entity ? entity[f.name] : f.default, id);
    const err = h("p", { class: "field-error", id: `${id}-error`, "data-error-for": f.name });
    inputs.set(f.name, input);
    errors.set(f.name, err);
    grid.append(h("div", { class: `field${f.kind === "json" ? " wide" : ""}` },
      h("label", { for: id }, f.label || f.name), input, err));
  }
  const formError = h("p", { class: "field-error", role: "alert" });
  const form = h("form", { novalidate: true }, grid, formError,
    h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, submitLabel)));
  const clear = () => {
    formError.textContent = "";
    for (const [name, err] of errors) {
      err.textContent = "";
      inputs.get(name).removeAttribute("aria-invalid");
    }
  };
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clear();
    const payload = {};
    try {
      for (const f of fields) {
        const v = readField(f, inputs.get(f.name));
        if (entity) {
          if (JSON.stringify(v) !== JSON.stringify(entity[f.name] ?? (f.kind === "list" ? [] : null))) payload[f.name] = v;
        } else if (v !== null && !(Array.isArray(v) && v.length === 0)) {
          payload[f.name] = v;
        }
      }
    } catch (e) {
      formError.textContent = e.message;
      return;
    }
    if (entity && Object.keys(payload).length === 0) {
      say("Nothing changed");
      return;
    }
    try {
      const saved = await submit(payload);
      say("Saved");
      if (onSaved) onSaved(saved);
    } catch (e) {
      formError.textContent = e.message;
      say(e.message, true);
      if (e instanceof KongError) {
        let first = null;
        for (const [name, msg] of Object.entries(e.fields)) {
          const err = errors.get(name);
          if (!err) continue;
          err.textContent = typeof msg === "string" ? msg : JSON.stringify(msg, null, 1);
          inputs.get(name).setAttribute("aria-invalid", "true");
          first = first || inputs.get(name);
        }
        if (first) first.focus();
      }
    }
  });
  return form;
}
