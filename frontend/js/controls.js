// Run controls: the memory model, the enabled transitions to step, undo/redo, jump and reset.
import { h, fill, changedSince, collapsible, codeText } from "./dom.js";

const MODELS = [["sc", "(sequential consistency)"], ["tso", "(x86-TSO)"], ["lkmm", "(Linux-kernel memory model)"]];

export function mountControls(root, actions) {
  const models = h("fieldset", { class: "models" });
  const steps = h("div", { class: "steps", role: "group", "aria-label": "Step a CPU" });
  const history = h("div", { class: "history row", role: "group", "aria-label": "History" });
  const note = h("p", { class: "model-note", role: "status" });
  const changed = changedSince();
  const panel = collapsible(root, { id: "controls", title: "Run" });
  fill(panel.body, models, note, steps, history);
  return {
    render(st) {
      if (!changed(st.current, st.scenario, st.stepping, st.model, st.modelNote, st.notice)) return;
      fill(models, h("legend", {}, "Memory model"), MODELS.map(([m, label]) => h("label", { class: "radio" },
        h("input", { type: "radio", name: "model", value: m, checked: st.model === m, disabled: !st.scenario,
          dataset: { key: `model-${m}` }, onchange: () => actions.setModel(m) }), ` ${m}`, h("span", { class: "long" }, ` ${label}`))));
      fill(note, modelNote(st));
      const cur = st.current;
      if (!st.scenario || !cur || !st.stepping) {
        fill(steps, st.scenario && !st.stepping ? null : h("p", {}, "Pick a scenario to step it."));
        fill(history);
        return;
      }
      const trans = cur.transitions;
      fill(steps, h("h3", { class: "visually-hidden" }, "Enabled transitions"), trans.length ? h("ul", { class: "transition-list" },
        trans.map((t) => {
          // under lkmm the server words the choice ("reads x=0 from the initial value") and the rule allowing it
          const choice = typeof t.choice === "string" && t.choice ? t.choice : choiceOf(t.token);
          const rule = t.reason && t.reason.rule && t.reason.rule !== "program-order" ? t.reason.rule : "";
          return h("li", {}, h("button", { type: "button", class: `cpu-${t.cpu % 4}`, dataset: { key: `step-${t.token}` },
            "aria-label": `Step CPU${t.cpu}: ${t.label}${choice ? ` [${choice}]` : ""}${rule ? ` (${t.reason.text || rule})` : ""}`,
            onclick: () => actions.step(t.token) },
          h("span", { class: "cpu-tag" }, `CPU${t.cpu}`), " ", codeText(t.label), choice ? h("span", { class: "choice" }, ` [${choice}]`) : null,
          rule ? h("span", { class: "op-rule" }, `⚠ ${rule}`) : null));
        })) :
        h("p", {}, `No CPU can step: ${cur.verdict.summary}`));
      const jumpInput = h("input", { id: "jump-to", type: "number", min: "0", max: String(cur.length), value: String(cur.position), inputmode: "numeric" });
      fill(history,
        h("button", { type: "button", disabled: !cur.can_undo, dataset: { key: "undo" }, onclick: actions.undo }, "Undo"),
        h("button", { type: "button", disabled: !cur.can_redo, dataset: { key: "redo" }, onclick: actions.redo }, "Redo"),
        h("button", { type: "button", dataset: { key: "reset" }, onclick: actions.reset }, "Reset"),
        h("span", { class: "jump" }, h("label", { for: "jump-to" }, "Step number"), jumpInput,
          h("button", { type: "button", dataset: { key: "jump" }, onclick: () => actions.jump(Number(jumpInput.value)) }, "Jump")),
        h("span", { class: "position", "data-value": "position" }, `at step ${cur.position} of ${cur.length}`));
    },
  };
}

/** The model's extra decision as the token spells it ("0:3:rf=1.1" → "rf=1.1"; flushes have none). */
export function choiceOf(token) {
  return token.split(":").slice(2).join(":");
}

function modelNote(st) {
  const n = st.modelNote;
  const parts = [];
  if (!st.stepping && st.notice) parts.push(st.notice);
  if (n && (n.dropped.length || n.refused)) {
    parts.push(`Switching to ${n.model} kept ${n.kept} step(s)`);
    if (n.dropped.length) parts.push(`dropped: ${n.dropped.join(" ")}`);
    if (n.refused) parts.push(`because: ${n.refused.message}`);
  }
  return parts.join("; ");
}
