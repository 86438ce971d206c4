// Code view: each CPU's compiled operations, the current position highlighted and the
// operation about to run named (from the server's view: pc, next, blocked, status).
import { h, fill, changedSince } from "./dom.js";

export function mountCodeView(root) {
  const body = h("div", { class: "code-cpus" });
  const changed = changedSince();
  fill(root, h("h2", { id: "code-h" }, "Code"), body);
  return {
    render(st) {
      if (!changed(st.current, st.scenario, st.stepping)) return;
      const sc = st.scenario;
      if (!sc) { fill(body); return; }
      const view = st.current && st.stepping ? st.current.view : null;
      fill(body, sc.cpus.map((c) => {
        const v = view ? view.cpus[c.cpu] : null;
        const status = v ? (v.blocked ? `blocked: ${v.blocked}` : v.status === "running" ? `next: ${v.next} (line ${v.next_line})` : v.status) : "";
        return h("section", { class: `code-cpu cpu-${c.cpu % 4}`, "aria-label": `CPU${c.cpu} code` },
          h("h3", {}, `CPU${c.cpu}`, c.name !== `P${c.cpu}` ? ` (${c.name})` : ""),
          v ? h("p", { class: "cpu-status" }, h("span", { class: "label" }, "Status: "), h("span", { dataset: { value: `cpu${c.cpu}-status` } }, status)) : null,
          h("ol", { class: "code", start: "0" }, c.code.map((op) => {
            const here = v && v.status === "running" && v.pc === op.op;
            return h("li", { class: `kind-${op.kind}${here ? " here" : ""}`, "aria-current": here ? "step" : null, value: String(op.op) },
              h("span", { class: "line" }, `line ${op.line}`), " ", h("code", {}, op.text),
              op.call && op.call !== op.text ? h("span", { class: "call" }, ` in ${op.call}`) : null,
              here ? h("span", { class: "here-mark" }, " ◀ about to run") : null);
          })));
      }));
    },
  };
}
