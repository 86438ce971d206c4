// Scenario picker: the built-in protocols with their one-line descriptions.
import { h, fill } from "./dom.js";

export function mountPicker(root, actions) {
  const list = h("ul", { class: "protocol-list", "aria-label": "Built-in protocols" });
  fill(root, h("h2", { id: "picker-h" }, "Scenarios"), list);
  return {
    render(st) {
      const current = st.scenario && st.scenario.builtin;
      fill(list, st.protocols.map((p) => h("li", {},
        h("button", {
          type: "button", class: "protocol", "aria-pressed": String(current === p.name),
          "aria-label": `Load ${p.name}`, dataset: { key: `protocol-${p.name}`, protocol: p.name },
          onclick: () => actions.loadProtocol(p.name),
        }, h("span", { class: "protocol-name" }, p.name), h("span", { class: "protocol-desc" }, p.description)))));
    },
  };
}
