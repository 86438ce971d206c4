// REST calls (docs/api.md, docs/sharing.md); errors come back as {error: {code, message, ...}}.

export async function getJSON(path) {
  const r = await fetch(path);
  return r.json();
}

export async function postJSON(path, body) {
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const data = await r.json();
  if (!r.ok) {
    const e = data.error || { code: `http-${r.status}`, message: JSON.stringify(data.detail || data) };
    throw Object.assign(new Error(e.message), { info: e });
  }
  return data;
}
