// Source editor: paste or edit a protocol; every error the server gives for it is shown right
// here, at its line and column (the caret under the offending token, tabs kept, so it lines
// up with the source line above it), and the text cursor goes there.
import { h, fill, collapsible } from "./dom.js";

export function mountEditor(root, actions) {
  const panel = collapsible(root, { id: "editor", title: "Edit or paste a protocol", startCollapsed: true });
  const area = h("textarea", { id: "source", rows: "14", spellcheck: "false", "aria-describedby": "source-error" });
  const err = h("div", { id: "source-error", role: "alert", class: "source-error" });
  const load = h("button", { type: "button", dataset: { key: "load-source" }, onclick: () => actions.loadSource(area.value) }, "Load this source");
  fill(panel.body,
    h("label", { for: "source" }, "Protocol source (LKMM litmus format)"),
    area, h("div", { class: "row" }, load), err);
  let shown = null;
  return {
    render(st) {
      // keep the user's edits: refill the text only when a new scenario arrives
      if (st.scenario && shown !== st.scenario && !st.editor.pending) {
        shown = st.scenario;
        area.value = st.scenario.source;
      }
      const e = st.editor.error;
      if (!e) { fill(err); return; }
      panel.open();
      const where = e.line ? `line ${e.line}, column ${e.column ?? 1}` : "";
      const lines = area.value.split("\n");
      const src = e.line ? lines[e.line - 1] ?? "" : null;
      fill(err,
        h("p", {}, h("strong", {}, `${e.code}${where ? ` at ${where}` : ""}: `), e.message),
        src !== null ? h("pre", { class: "caret", "aria-label": `source line ${e.line}` }, `${src}\n${caretPad(src, e.column)}^`) : null);
    },
    /** Put the text cursor at the error, so a keyboard user lands on it. */
    focusError(e) {
      panel.open();
      if (!e || !e.line) { area.focus(); err.scrollIntoView({ block: "nearest" }); return; }
      const lines = area.value.split("\n");
      let off = 0;
      for (let i = 0; i < e.line - 1 && i < lines.length; i++) off += lines[i].length + 1;
      off += Math.max(0, (e.column || 1) - 1);
      area.focus();
      area.setSelectionRange(off, off);
      err.scrollIntoView({ block: "nearest" });  // the message under the editor, whole
    },
  };
}

/** The whitespace that puts a caret under column `col` (1-based, in characters) of `line`: the
 * line's own tabs are kept and every other character becomes a space, so the caret lines up
 * however wide a tab is drawn. */
export function caretPad(line, col) {
  let pad = "";
  for (const ch of line.slice(0, Math.max(0, (col || 1) - 1))) pad += ch === "\t" ? "\t" : " ";
  return pad;
}
