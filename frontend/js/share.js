// Share: the address bar always holds the current scenario and schedule (#s=...), made by
// the server (POST /api/share); copy the link, export an email (diagram + block), import
// a pasted link, email block or diagram.
import { h, fill, collapsible } from "./dom.js";
import { postJSON } from "./api.js";

export function mountShare(root, actions) {
  const link = h("input", { id: "share-link", type: "text", readonly: true, "aria-label": "Link to this state" });
  const status = h("p", { class: "share-status", role: "status" });
  const email = h("textarea", { id: "email-text", rows: "10", readonly: true, spellcheck: "false" });
  const emailBox = h("div", { class: "email-box", hidden: true }, h("label", { for: "email-text" }, "Email text (diagram and scenario block)"), email,
    h("button", { type: "button", dataset: { key: "copy-email" }, onclick: () => copy(email.value, "email text copied") }, "Copy email text"));
  const paste = h("textarea", { id: "import-text", rows: "5", spellcheck: "false", placeholder: "a #s= link, a PINRACE SCENARIO block or a CPU0 | CPU1 diagram" });
  const panel = collapsible(root, { id: "share", title: "Share" });
  fill(panel.body,
    h("div", { class: "row" }, link,
      h("button", { type: "button", dataset: { key: "copy-link" }, onclick: () => copy(link.value, "link copied") }, "Copy link"),
      h("button", { type: "button", dataset: { key: "email" }, onclick: actions.emailExport }, "Email export")),
    h("p", { class: "carries" }, h("span", { class: "label" }, "The link carries: "), h("span", { dataset: { value: "link-carries" } })),
    status, emailBox,
    h("label", { for: "import-text" }, "Paste a link, email block or diagram"), paste,
    h("div", { class: "row" }, h("button", { type: "button", dataset: { key: "import" }, onclick: () => actions.importText(paste.value) }, "Import")));

  async function copy(text, said) {
    try {
      await navigator.clipboard.writeText(text);
      actions.shareStatus(said);
    } catch {
      // no clipboard permission (e.g. plain http on another host): select it for Ctrl+C instead
      link.select();
      actions.shareStatus("select and copy the link above (the clipboard is not available here)");
    }
  }
  return {
    render(st) {
      if (st.share.status && !panel.isOpen()) panel.open();  // an import's answer is never hidden
      link.value = st.share.url;
      const c = st.share.carries;
      fill(root.querySelector('[data-value="link-carries"]'),
        c ? `${c.name} under ${c.model}, schedule ${c.schedule || "(empty: the initial state)"}` : "nothing yet");
      fill(status, st.share.status);
      emailBox.hidden = !st.share.email;
      email.value = [st.share.diagram, st.share.email, st.share.url].filter(Boolean).join("\n\n");
    },
  };
}

/** Ask the server for the link of (scenario, model, schedule). */
export async function makeLink(st, schedule) {
  const sc = st.scenario;
  return postJSON("/api/share", { scenario: sc.builtin || sc.source, model: st.model, schedule, base: `${location.origin}${location.pathname}` });
}

/** The diagram of the applied run (sc/tso only: the server draws it). */
export async function makeDiagram(st, schedule) {
  const sc = st.scenario;
  if (st.model === "lkmm" || !schedule) return "";
  const d = await postJSON("/api/diagram/export", { scenario: sc.builtin || sc.source, schedule, model: st.model });
  return d.diagram;
}

/** Is this pasted text a link or email block (else we read it as a diagram)? */
export function looksLikeLink(text) {
  const t = text.trim();
  return t.includes("#s=") || t.includes("BEGIN PINRACE") || /^[A-Za-z0-9_-]{16,}$/.test(t);
}
