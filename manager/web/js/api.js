// Calls to the Admin API, which the manager serves same-origin under /api.

const base = "api";

// KongError is a Kong-shaped error answer: message, name, code and fields.
export class KongError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.fields = (body && body.fields) || {};
  }
}

// path joins segments into an API path, escaping each.
export function path(...segments) {
  return segments.map((s) => encodeURIComponent(String(s))).join("/");
}

// call sends a request with an optional JSON body and returns the decoded
// answer (null for 204); any status above 299 throws a KongError.
export async function call(method, url, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(`${base}/${url}`, init);
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = { message: text }; }
  }
  if (!res.ok) throw new KongError(res.status, data);
  return data;
}

// get is call("GET", url).
export const get = (url) => call("GET", url);

// stream opens the Server-Sent Events stream at url and calls onData with
// each decoded snapshot; an "error" event from the server (the entity was
// deleted) calls onGone with its Kong body and closes the stream. The
// returned function closes it.
export function stream(url, onData, onGone) {
  const es = new EventSource(`${base}/${url}`);
  es.onmessage = (e) => onData(JSON.parse(e.data));
  es.addEventListener("error", (e) => {
    if (e.data) {
      es.close();
      onGone(JSON.parse(e.data));
    }
  });
  return () => es.close();
}
