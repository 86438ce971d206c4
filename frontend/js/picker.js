// Scenario picker and the lessons: two tabs over the built-in protocols (with their one-line
// descriptions) and the course, each lesson marked when its goal was met in this browser.
import { h, fill, collapsible } from "./dom.js";

const TABS = [["scenarios", "Scenarios"], ["lessons", "Lessons"]];

export function mountPicker(root, actions) {
  const panel = collapsible(root, { id: "picker", title: "Scenarios and lessons" });
  const tabs = h("div", { class: "tabs", role: "tablist", "aria-label": "Scenarios or lessons" });
  const list = h("div", { class: "tab-panel", role: "tabpanel" });
  fill(panel.body, tabs, list);
  tabs.addEventListener("keydown", (e) => {
    if (e.key !== "ArrowLeft" && e.key !== "ArrowRight" && e.key !== "Home" && e.key !== "End") return;
    e.preventDefault();
    const cur = TABS.findIndex(([k]) => k === tabs.dataset.tab);
    const next = e.key === "Home" ? 0 : e.key === "End" ? TABS.length - 1 : (cur + (e.key === "ArrowRight" ? 1 : TABS.length - 1)) % TABS.length;
    actions.setTab(TABS[next][0]);
    tabs.querySelector(`[data-tab="${TABS[next][0]}"]`).focus();
  });
  return {
    collapse: panel.close,
    render(st) {
      tabs.dataset.tab = st.tab;
      fill(tabs, TABS.map(([k, label]) => h("button", {
        type: "button", role: "tab", id: `tab-${k}`, "aria-selected": String(st.tab === k), tabindex: st.tab === k ? "0" : "-1",
        "aria-controls": "picker-list", dataset: { tab: k, key: `tab-${k}` }, onclick: () => actions.setTab(k),
      }, label, k === "lessons" && st.lessons.length ? ` (${st.done.filter((n) => st.lessons.some((l) => l.name === n)).length}/${st.lessons.length})` : "")));
      list.id = "picker-list";
      list.setAttribute("aria-labelledby", `tab-${st.tab}`);
      if (st.tab === "lessons") { fill(list, lessonList(st, actions)); return; }
      const current = st.scenario && st.scenario.builtin;
      fill(list, h("ul", { class: "protocol-list", "aria-label": "Built-in protocols" }, st.protocols.map((p) => h("li", {},
        h("button", {
          type: "button", class: "protocol", "aria-pressed": String(current === p.name && !st.lesson),
          "aria-label": `Load ${p.name}`, "aria-description": p.description, title: p.description,
          dataset: { key: `protocol-${p.name}`, protocol: p.name },
          onclick: () => actions.loadProtocol(p.name),
        }, h("span", { class: "protocol-name" }, p.name), h("span", { class: "protocol-desc" }, p.description))))));
    },
  };
}

function lessonList(st, actions) {
  if (!st.lessons.length) return h("p", { class: "muted" }, "No lessons on this server.");
  return [
    h("p", { class: "hint" }, "You are the scheduler: each lesson sets a goal on one of the thread's protocols; the server says when it is met."),
    h("ol", { class: "lesson-list", "aria-label": "Lessons, in order" }, st.lessons.map((l) => {
      const done = st.done.includes(l.name);
      const active = st.lesson && st.lesson.name === l.name;
      return h("li", {}, h("button", {
        type: "button", class: `lesson-item${done ? " done" : ""}`, "aria-pressed": String(Boolean(active)),
        "aria-label": `Lesson ${l.index}: ${l.title}${done ? " (done)" : ""}`, dataset: { key: `lesson-${l.name}`, lesson: l.name },
        onclick: () => actions.startLesson(l.name),
      }, h("span", { class: "lesson-num" }, `${l.index}.`), " ", h("span", { class: "lesson-title" }, l.title),
      done ? h("span", { class: "lesson-done" }, " ✓ done") : null));
    })),
  ];
}
