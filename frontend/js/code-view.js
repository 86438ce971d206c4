// Code view: each CPU's compiled operations, the current position highlighted and the
// operation about to run named (from the server's view: pc, next, blocked, status).  Each
// operation carries its role (the server's `role`: "read of page._refcount", "the compare"),
// so operations with the same source text are told apart.
import { h, fill, changedSince, collapsible, narrow, codeText } from "./dom.js";

const STEPS = new Set(["Load", "Store", "Rmw", "Lock", "Unlock", "TryLock", "IsLocked"]);

export function mountCodeView(root, actions) {
  const panel = collapsible(root, { id: "code", title: "Code", startCollapsed: narrow() });
  const body = h("div", { class: "code-cpus" });
  fill(panel.body, body);
  const changed = changedSince();
  return {
    render(st) {
      if (!changed(st.current, st.scenario, st.stepping, st.model)) return;
      const sc = st.scenario;
      if (!sc) { fill(body, h("p", { class: "muted" }, "No scenario loaded.")); return; }
      const view = st.current && st.stepping ? st.current.view : null;
      // under lkmm, an operation that has not run and is not offered can say why not (the
      // server's refusal: the rule and the cycle it would close)
      const lkmm = st.model === "lkmm" && st.current && st.stepping;
      const ran = new Set(lkmm ? st.current.timeline.filter((t) => t.applied).map((t) => `${t.cpu}:${t.op}`) : []);
      const offered = new Set(lkmm ? st.current.transitions.map((t) => `${t.cpu}:${t.op}`) : []);
      fill(body, sc.cpus.map((c) => {
        const v = view ? view.cpus[c.cpu] : null;
        const status = v ? (v.blocked ? `blocked: ${v.blocked}` : v.status === "running" ? `next: ${v.next} (line ${v.next_line})` : v.status) : "";
        return h("section", { class: `code-cpu cpu-${c.cpu % 4}`, "aria-label": `CPU${c.cpu} code` },
          h("h3", {}, `CPU${c.cpu}`, c.name !== `P${c.cpu}` ? ` (${c.name})` : ""),
          v ? h("p", { class: "cpu-status" }, h("span", { class: "label" }, "Status: "), h("span", { dataset: { value: `cpu${c.cpu}-status` } }, codeText(status))) : null,
          h("ol", { class: "code", start: "0" }, c.code.map((op) => {
            const here = v && v.status === "running" && v.pc === op.op;
            return h("li", { class: `kind-${op.kind}${here ? " here" : ""}`, "aria-current": here ? "step" : null, value: String(op.op) },
              h("span", { class: "line" }, `line ${op.line}`), " ", h("code", {}, codeText(op.text)),
              op.role ? h("span", { class: "role", dataset: { role: String(op.op) } }, ` — ${op.role}`) : null,
              op.call && op.call !== op.text ? h("span", { class: "call" }, " in ", codeText(op.call)) : null,
              here ? h("span", { class: "here-mark" }, " ◀ about to run") : null,
              lkmm && STEPS.has(op.kind) && !ran.has(`${c.cpu}:${op.op}`) && !offered.has(`${c.cpu}:${op.op}`) && v && v.status !== "done"
                ? h("button", { type: "button", class: "why-not-btn linklike", dataset: { key: `why-${c.cpu}-${op.op}` },
                  "aria-label": `Why can CPU${c.cpu} not run line ${op.line} ${op.text} now?`,
                  onclick: () => actions.step(`${c.cpu}:${op.op}`) }, "why not now?") : null);
          })));
      }));
    },
  };
}
