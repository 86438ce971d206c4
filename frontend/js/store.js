// The app's one serialisable state: everything the views draw comes from here, and the
// server's messages are the only source of what a state, a verdict, a goal or a refusal says.

export function initialState() {
  return {
    connected: false,
    protocols: [],          // GET /api/protocols
    lessons: [],            // GET /api/lessons, in course order
    tab: "scenarios",       // the picker's tab: "scenarios" or "lessons"
    scenario: null,         // the last `scenario` message (cpus, code, description, bad_outcome)
    model: "sc",
    stepping: true,         // false when the server cannot step this scenario under this model
    modelNote: null,        // the last `model` message: kept, dropped, refused
    current: null,          // the last `state` message
    previousView: null,     // the view of the state before the current one in the run, to mark changes
    selected: null,         // timeline index picked for keyboard moves
    refusal: null,          // the last `error` message: {request, error}
    notice: null,           // a server note that is not an error of the user's (e.g. unsupported)
    explore: { running: false, model: null, budget: null, progress: null, result: null, scenario: null },
    share: { url: "", email: "", diagram: "", status: "", carries: null },
    editor: { text: "", error: null, pending: false },
    lesson: null,           // the `lesson` message's lesson while one is played
    goal: null,             // the last `goal` message
    hints: 0,               // hints shown so far in this lesson
    done: loadDone(),       // names of the lessons whose goal was met (localStorage)
    loading: "",            // what the app is waiting for, shown in the status line
    focus: null,            // where to bring the eye after the next render: "banner", "explore", "goal"
  };
}

const DONE_KEY = "pinrace.lessons.done";

/** The lessons met so far, kept in this browser. */
export function loadDone() {
  try {
    const v = JSON.parse(localStorage.getItem(DONE_KEY) || "[]");
    return Array.isArray(v) ? v.filter((x) => typeof x === "string") : [];
  } catch { return []; }
}

export function saveDone(names) {
  try { localStorage.setItem(DONE_KEY, JSON.stringify(names)); } catch { /* private mode: progress is not kept */ }
}

/** The applied part of the run as schedule text ("1:0 0:1 0:flush"): what a link carries. */
export function appliedSchedule(st) {
  const cur = st.current;
  if (!cur) return "";
  return cur.timeline.filter((t) => t.applied).map((t) => t.token).join(" ");
}
