// The app's one serialisable state: everything the views draw comes from here, and the
// server's messages are the only source of what a state, a verdict or a refusal says.

export function initialState() {
  return {
    connected: false,
    protocols: [],          // GET /api/protocols
    scenario: null,         // the last `scenario` message (cpus, code, description, bad_outcome)
    model: "sc",
    stepping: true,         // false when the server cannot step this scenario under this model
    modelNote: null,        // the last `model` message: kept, dropped, refused
    current: null,          // the last `state` message
    previousView: null,     // the view shown before it, to mark what changed
    selected: null,         // timeline index picked for keyboard moves
    refusal: null,          // the last `error` message: {request, error}
    notice: null,           // a server note that is not an error of the user's (e.g. unsupported)
    explore: { running: false, model: null, budget: null, progress: null, result: null },
    share: { url: "", email: "", diagram: "", status: "", carries: null },
    editor: { text: "", error: null },
    loading: "",            // what the app is waiting for, shown in the status line
  };
}

/** The applied part of the run as schedule text ("1:0 0:1 0:flush"): what a link carries. */
export function appliedSchedule(st) {
  const cur = st.current;
  if (!cur) return "";
  return cur.timeline.filter((t) => t.applied).map((t) => t.token).join(" ");
}
