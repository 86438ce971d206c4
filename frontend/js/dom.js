// Tiny DOM helpers: build elements from data, so views never touch innerHTML.

/** h("button", {class: "x", onclick: f, "aria-label": "..."}, child, ...) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "value") el.value = v;
    else if (k === "checked" || k === "disabled" || k === "open" || k === "hidden") el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

/** Replace everything inside `el` with `children`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A labelled value: <dt>label</dt><dd>value</dd>, marked when it changed since the last step. */
export function pair(label, value, changed = false, key = null) {
  const dd = h("dd", { class: changed ? "changed" : null, dataset: key ? { value: key } : null }, String(value));
  if (changed) dd.append(h("span", { class: "changed-mark" }, " (changed)"));
  return [h("dt", {}, label), dd];
}

/** A guard for render(): true when any input differs (by identity) from the last call's, so
 * a view redraws only when its data changed (a redraw mid-drag or mid-typing would lose it). */
export function changedSince() {
  let last = null;
  return (...inputs) => {
    const same = last && last.length === inputs.length && last.every((x, i) => x === inputs[i]);
    last = inputs;
    return !same;
  };
}
