// A lesson being played: the goal bar (sticky: the goal stays in view while stepping and
// dragging) and the lesson panel (hints one at a time, the server's verdict on the goal, the
// thread's argument once it is met, the next lesson).  Whether the goal is met is only ever
// what the server's `goal` message says.
import { h, fill } from "./dom.js";

export function mountLesson(bar, root, actions) {
  const status = h("p", { id: "goal-status", class: "goal-status" });
  // one live region, outside the parts that are redrawn, says "Goal met" once per success
  const announce = h("p", { class: "visually-hidden", role: "alert", id: "goal-announce" });
  document.body.append(announce);
  let announced = null;
  return {
    render(st) {
      const l = st.lesson;
      bar.hidden = root.hidden = !l;
      if (!l) { fill(bar); fill(root); announced = null; announce.textContent = ""; return; }
      const g = st.goal && st.goal.lesson === l.name ? st.goal : null;
      const met = Boolean(g && g.met);
      bar.className = `goal-bar${met ? " met" : ""}`;
      fill(status, g ? [met ? h("strong", {}, "✓ ") : null, g.why] : "The server judges the goal on every step.");
      fill(bar,
        h("p", { class: "goal-line" }, h("strong", {}, `Lesson ${l.index} of ${l.count} — goal: `), h("span", { id: "goal-text" }, l.goal)),
        status,
        met ? h("button", { type: "button", class: "linklike", dataset: { key: "read-explain" }, onclick: actions.showExplain },
          "Read the thread's argument") : null);
      // success is announced once per lesson, also to screen readers
      const key = met ? `${l.name}` : null;
      if (key && announced !== key) { announced = key; announce.textContent = `Goal met: ${l.title}. ${g.why}`; }
      if (!met && announced === l.name) announced = null;
      const shown = l.hints.slice(0, st.hints);
      const idx = st.lessons.findIndex((x) => x.name === l.name);
      const next = idx >= 0 ? st.lessons[idx + 1] : null;
      const check = l.check;
      fill(root,
        h("h2", { id: "lesson-h" }, `Lesson ${l.index}: ${l.title}`),
        h("p", { class: "lesson-meta" }, h("span", { class: "label" }, "Starts under "), l.model,
          check.model ? [h("span", { class: "label" }, "; judged under "), check.model] : null,
          l.builtin ? [h("span", { class: "label" }, "; protocol "), h("code", {}, l.builtin)] : null),
        check.kind === "unreachable" || check.kind === "fix" ? h("div", { class: "row" },
          h("button", { type: "button", dataset: { key: "lesson-check" }, disabled: st.explore.running,
            onclick: () => actions.explore(check.model) }, `Run the exhaustive check under ${check.model}`)) : null,
        shown.length ? h("ol", { class: "hints", "aria-label": "Hints" }, shown.map((x) => h("li", {}, x))) : null,
        h("div", { class: "row" },
          st.hints < l.hints.length ? h("button", { type: "button", dataset: { key: "hint" }, onclick: actions.nextHint },
            `Show a hint (${st.hints + 1} of ${l.hints.length})`) : h("span", { class: "muted" }, l.hints.length ? "No more hints." : ""),
          h("button", { type: "button", dataset: { key: "lesson-restart" }, onclick: () => actions.startLesson(l.name) }, "Restart the lesson"),
          h("button", { type: "button", dataset: { key: "lesson-leave" }, onclick: actions.leaveLesson }, "Leave the lesson")),
        met ? h("section", { class: "explain", id: "explain", tabindex: "-1", "aria-labelledby": "explain-h", dataset: { key: "explain" } },
          h("h3", { id: "explain-h" }, "✓ Goal met — the thread's argument"),
          h("p", {}, g.explain || l.explain),
          l.source ? h("p", { class: "muted" }, l.source) : null,
          next ? h("button", { type: "button", dataset: { key: "lesson-next" }, onclick: () => actions.startLesson(next.name) },
            `Next lesson: ${next.title}`) : h("p", {}, h("strong", {}, "That was the last lesson."))) : null);
    },
  };
}
