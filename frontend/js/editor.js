// Source editor: paste or edit a protocol; the server's errors are shown at their line and column.
import { h, fill } from "./dom.js";

export function mountEditor(root, actions) {
  const area = h("textarea", { id: "source", rows: "14", spellcheck: "false", "aria-describedby": "source-error" });
  const err = h("div", { id: "source-error", role: "alert", class: "source-error" });
  const load = h("button", { type: "button", dataset: { key: "load-source" }, onclick: () => actions.loadSource(area.value) }, "Load this source");
  fill(root, h("details", { class: "editor" },
    h("summary", {}, "Edit or paste a protocol"),
    h("label", { for: "source" }, "Protocol source (LKMM litmus format)"),
    area, h("div", { class: "row" }, load), err));
  let shown = null;
  return {
    render(st) {
      // keep the user's edits: refill the text only when a new scenario arrives
      if (st.scenario && shown !== st.scenario) {
        shown = st.scenario;
        area.value = st.scenario.source;
      }
      const e = st.editor.error;
      if (!e) { fill(err); return; }
      const where = e.line ? `line ${e.line}, column ${e.column ?? 1}` : "";
      const lines = area.value.split("\n");
      const src = e.line ? lines[e.line - 1] ?? "" : null;
      fill(err,
        h("p", {}, h("strong", {}, `${e.code}${where ? ` at ${where}` : ""}: `), e.message),
        src !== null ? h("pre", { class: "caret", "aria-label": `source line ${e.line}` },
          `${src}\n${" ".repeat(Math.max(0, (e.column || 1) - 1))}^`) : null);
    },
    /** Put the text cursor at the error, so a keyboard user lands on it. */
    focusError(e) {
      if (!e || !e.line) return;
      const lines = area.value.split("\n");
      let off = 0;
      for (let i = 0; i < e.line - 1 && i < lines.length; i++) off += lines[i].length + 1;
      off += Math.max(0, (e.column || 1) - 1);
      root.querySelector("details").open = true;
      area.focus();
      area.setSelectionRange(off, off);
    },
  };
}
