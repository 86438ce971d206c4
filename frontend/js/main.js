// The controller: server messages and user actions update the one state, then render()
// redraws every view.  All semantics (enabled moves, values, verdicts, refusals, goals) come
// from the server; this file only sends choices, keeps the address bar in step and brings
// each result into view.
import { Session } from "./ws.js";
import { getJSON, postJSON } from "./api.js";
import { initialState, appliedSchedule, saveDone } from "./store.js";
import { mountPicker } from "./picker.js";
import { mountEditor } from "./editor.js";
import { mountControls } from "./controls.js";
import { mountTimeline } from "./timeline.js";
import { mountCodeView } from "./code-view.js";
import { mountStatePanel } from "./state-panel.js";
import { mountVerdict } from "./verdict.js";
import { mountExplore } from "./explore.js";
import { mountShare, makeLink, makeDiagram, looksLikeLink } from "./share.js";
import { mountLesson } from "./lesson.js";
import { narrow } from "./dom.js";

const st = initialState();
const $ = (id) => document.getElementById(id);
const session = new Session(onMessage);

// ---- server messages -------------------------------------------------------------------
function onMessage(msg) {
  switch (msg.type) {
    case "hello": st.connected = true; break;
    case "closed": st.connected = false; st.loading = "disconnected from the server: reload the page"; break;
    case "scenario":
      // a new scenario: nothing computed for the old one stays on screen
      st.scenario = msg; st.current = null; st.previousView = null; st.selected = null;
      st.refusal = null; st.notice = null;
      if (!st.editor.pending) st.editor.error = null;
      st.explore = { running: false, model: null, budget: null, progress: null, result: null, scenario: null };
      Object.assign(st.share, { status: "", email: "", diagram: "" });
      break;
    case "model":
      st.model = msg.model; st.stepping = msg.stepping; st.modelNote = msg; st.notice = null;
      st.refusal = null;  // a refusal under the old model says nothing about this one
      if (!msg.stepping) st.previousView = null;
      break;
    case "state":
      st.current = msg; st.refusal = null;
      if (st.selected !== null && st.selected >= msg.length) st.selected = null;
      queueShare();
      break;
    case "error":
      if (msg.error.code === "unsupported") { st.notice = msg.error.message; break; }
      if (msg.request === "load" && st.editor.pending) { st.editor.error = msg.error; break; }  // shown by the editor
      st.refusal = msg;
      if (msg.error.line) st.editor.error = msg.error;
      break;
    case "explore-started":
      st.explore = { running: true, model: msg.model, budget: msg.budget, progress: null, result: null,
        scenario: st.scenario && st.scenario.name };
      break;
    case "progress": st.explore.progress = msg; break;
    case "result":
      st.explore.running = false; st.explore.result = msg.result;
      st.focus = "explore";
      break;
    case "lesson":
      st.lesson = msg.lesson; st.goal = null; st.hints = 0;
      break;
    case "goal":
      if (msg.met && !st.done.includes(msg.lesson)) { st.done = [...st.done, msg.lesson]; saveDone(st.done); }
      st.goal = msg;
      break;
    default: return;
  }
  if (msg.type === "error" && msg.request === "explore") st.explore.running = false;
  render();
}

// ---- actions ---------------------------------------------------------------------------
async function loading(what, fn) {
  st.loading = what; render();
  try { return await fn(); } finally { st.loading = ""; render(); }
}

/** Show the result of an action: the banner (verdict, what the step did) gets the focus and the
 * eye, without the user scrolling. */
function showBanner() { st.focus = "banner"; render(); }

const actions = {
  async loadProtocol(name) {
    if (st.lesson) await actions.leaveLesson();
    await loading(`loading ${name}`, () => session.request({ type: "load", scenario: name, model: st.model }));
    if (narrow()) picker.collapse();
    showBanner();
  },
  async loadSource(text) {
    st.editor.pending = true; st.editor.error = null;
    try {
      const r = await loading("compiling the source", () => session.request({ type: "load", scenario: text, model: st.model }));
      if (r.type === "error") { editor.focusError(r.error); return; }
      if (st.lesson && st.lesson.check.kind === "fix") { st.focus = "lesson-check"; render(); }
    } finally { st.editor.pending = false; render(); }
  },
  step: (token) => session.request({ type: "step", token }),
  undo: () => session.request({ type: "undo" }),
  redo: () => session.request({ type: "redo" }),
  jump: (index) => session.request({ type: "jump", index }),
  reset: () => (st.lesson ? actions.startLesson(st.lesson.name) : st.scenario && actions.loadProtocolOrSource()),
  loadProtocolOrSource: () => session.request({ type: "load", scenario: st.scenario.builtin || st.scenario.source, model: st.model }),
  async move(from, to) {
    const r = await session.request({ type: "move", from, to });
    if (r.type === "state" && st.selected === from) { st.selected = to; render(); }
    return r;
  },
  select(i) { st.selected = i; render(); },
  async moveSelected(dir) {
    const i = st.selected;
    if (i === null || !st.current) return;
    const to = i + dir;
    if (to < 0 || to >= st.current.length) return;
    await actions.move(i, to);
  },
  async setModel(m) {
    const r = await loading(`switching to ${m}`, () => session.request({ type: "model", model: m }));
    // a model that cannot step sends no state: ask for one, so the server says why
    if (r.type === "model" && !r.stepping) { await session.request({ type: "state" }); queueShare(); }
  },
  explore: (model) => session.request({ type: "explore", ...(model ? { model } : {}) }),
  cancel: () => session.request({ type: "cancel" }),
  async loadSchedule(schedule, model) {
    if (model && model !== st.model) await actions.setModel(model);
    const r = await session.request({ type: "move", schedule: Array.isArray(schedule) ? schedule.join(" ") : schedule });
    // a move keeps the position where it was unless it was at the end: show the whole run
    if (r.type === "state" && r.position < r.length) await session.request({ type: "jump", index: r.length });
    return r;
  },
  async loadResult(schedule, model) {
    const r = await loading("loading the run", () => actions.loadSchedule(schedule, model));
    if (r && r.type === "state") showBanner();
  },
  shareStatus(text) { st.share.status = text; render(); },
  async emailExport() {
    const sched = appliedSchedule(st);
    const key = JSON.stringify({ name: st.scenario.name, model: st.model, schedule: sched });
    try {
      const [link, diagram] = await Promise.all([makeLink(st, sched), makeDiagram(st, sched)]);
      Object.assign(st.share, { url: link.url, email: link.email, diagram, emailKey: key, status: "email text ready below" });
    } catch (e) { st.share.status = `export failed: ${e.message}`; }
    render();
  },
  async importText(text) {
    if (!text.trim()) { st.share.status = "nothing to import: paste a link, an email block or a diagram"; render(); return; }
    try {
      if (looksLikeLink(text)) {
        await openShared(await postJSON("/api/share/decode", { link: text }));
      } else {
        if (!st.scenario) throw new Error("load the scenario the diagram is about first");
        const d = await postJSON("/api/diagram/import", { scenario: st.scenario.builtin || st.scenario.source, diagram: text, model: st.model === "tso" ? "tso" : "sc" });
        await actions.loadSchedule(d.schedule);
      }
      const c = st.current;
      st.share.status = `imported: ${st.scenario.name} under ${st.model}, ${c ? c.length : 0} step(s) — shown in the timeline`;
      showBanner();
    } catch (e) { st.share.status = `import failed: ${e.message}`; render(); }
  },
  setTab(tab) { st.tab = tab; render(); },
  async startLesson(name) {
    const r = await loading(`opening the lesson ${name}`, () => session.request({ type: "lesson", name }));
    if (r.type === "error") return;
    history.replaceState(null, "", `#lesson=${encodeURIComponent(name)}`);
    ourHash = location.hash;
    if (narrow()) picker.collapse();
    st.focus = "lesson"; render();
  },
  async leaveLesson() {
    await session.request({ type: "lesson", name: null });
    st.goal = null; st.hints = 0;
    queueShare();
    render();
  },
  nextHint() { st.hints += 1; render(); },
  showExplain() { st.focus = "explain"; render(); },
};

/** Load what a link carries: the scenario, then its schedule, then its model. */
async function openShared(d) {
  if (st.lesson) await actions.leaveLesson();
  const r = await session.request({ type: "load", scenario: d.builtin || d.scenario, model: d.model });
  if (r.type === "error") return;
  if (r.type === "model" && !r.stepping) await session.request({ type: "state" });  // the server says why
  else if (d.schedule) await actions.loadSchedule(d.schedule);
  if (d.warnings && d.warnings.length) st.share.status = d.warnings.join("; ");
}

// ---- the address bar -------------------------------------------------------------------
let shareTimer = null;
let ourHash = "";
function queueShare() {
  clearTimeout(shareTimer);
  shareTimer = setTimeout(updateShare, 120);
}
let shareSeq = 0;
async function updateShare() {
  if (!st.scenario) return;
  const seq = ++shareSeq;
  const schedule = appliedSchedule(st);
  const model = st.model;
  try {
    const link = await makeLink(st, schedule);
    if (seq !== shareSeq) return;  // a later state already asked for its own link
    if (!st.lesson) {  // while a lesson is played the address bar keeps #lesson=NAME
      ourHash = link.fragment;
      history.replaceState(null, "", link.fragment);
    }
    const carries = { name: st.scenario.name, model, schedule };
    // an email export stays valid while the link carries the same thing
    if (JSON.stringify(carries) !== st.share.emailKey) Object.assign(st.share, { email: "", diagram: "" });
    Object.assign(st.share, { url: link.url, carries });
  } catch (e) { st.share.status = `no link: ${e.message}`; }
  render();
}
window.addEventListener("hashchange", () => {
  if (location.hash !== ourHash) openFromHash();
});
async function openFromHash() {
  const lesson = /^#lesson=([A-Za-z0-9_.-]+)/.exec(location.hash);
  if (lesson) {
    ourHash = location.hash;
    st.tab = "lessons";
    await actions.startLesson(decodeURIComponent(lesson[1]));
    return true;
  }
  const m = /^#s=([A-Za-z0-9_-]+)/.exec(location.hash);
  if (!m) return false;
  ourHash = location.hash;
  await loading("opening the shared link", async () => {
    try { await openShared(await getJSON(`/api/share/decode?s=${m[1]}`).then(checkDecoded)); }
    catch (e) { st.refusal = { request: "link", error: e.info || { message: e.message } }; }
  });
  showBanner();
  return true;
}
function checkDecoded(d) {
  if (d.error) throw Object.assign(new Error(d.error.message), { info: d.error });
  return d;
}

// ---- rendering -------------------------------------------------------------------------
const picker = mountPicker($("picker"), actions);
const editor = mountEditor($("editor"), actions);
const lesson = mountLesson($("goal-bar"), $("lesson"), actions);
const views = [picker, editor, lesson, mountControls($("controls"), actions), mountVerdict($("verdict")),
  mountTimeline($("timeline"), actions, $("graph")), mountCodeView($("code"), actions), mountStatePanel($("state")),
  mountExplore($("explore"), actions), mountShare($("share"), actions)];

/** Bring a result into view and give it the focus (focus never scrolls by itself: the
 * scrolling is ours, so a result already in view stays put). */
function bringIntoView(el, block = "nearest") {
  if (!el) return;
  el.focus({ preventScroll: true });
  el.scrollIntoView({ block, inline: "nearest" });
}

function render() {
  // views rebuild their DOM: keep keyboard focus on the control with the same key
  const key = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.key : null;
  for (const v of views) v.render(st);
  $("status").textContent = st.loading || (st.connected ? `connected · model ${st.model}${st.lesson ? ` · lesson ${st.lesson.index} of ${st.lesson.count}` : ""}` : "connecting…");
  document.body.dataset.ready = st.connected && !st.loading ? "yes" : "no";
  if (key && document.activeElement === document.body) {
    // the same control if it is still there; after a step, the first enabled step instead,
    // so a keyboard user can keep stepping with Enter
    let el = document.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if ((!el || el.disabled) && key.startsWith("step-")) el = document.querySelector('[data-key^="step-"]') || document.querySelector('[data-key="undo"]');
    if (el && !el.disabled) el.focus();
  }
  const f = st.focus;
  st.focus = null;
  if (f === "banner") bringIntoView($("verdict"));
  else if (f === "explore") bringIntoView(document.getElementById("explore-verdict"));
  else if (f === "lesson-check") bringIntoView(document.querySelector('[data-key="lesson-check"]'));
  else if (f === "explain") bringIntoView(document.getElementById("explain"), "center");
  else if (f === "lesson") bringIntoView($("goal-bar"), "start");
}

render();
[st.protocols, st.lessons] = await Promise.all([getJSON("/api/protocols"), getJSON("/api/lessons").catch(() => [])]);
render();
await session.open;
await openFromHash();
render();
