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
  const dd = h("dd", { class: changed ? "changed" : null, dataset: key ? { value: key } : null }, codeText(String(value)));
  if (changed) dd.append(h("span", { class: "changed-mark" }, " (changed)"));
  return [h("dt", {}, typeof label === "string" ? codeText(label) : label), dd];
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

/** Code or a label as text that wraps only at spaces and after operators and commas (`(`, `,`,
 * `->`, `.`, `:`): each piece between those points is a no-wrap span, so a narrow cell never
 * breaks inside an identifier (nor after the hyphen of `->`). */
export function codeText(text) {
  const out = [];
  for (const part of String(text).split(/(\s+)/)) {
    if (!part) continue;
    if (/^\s+$/.test(part)) { out.push(part); continue; }
    part.split(/(?<=->|[(,.:[]|&&|\|\|)/).forEach((piece, i) => {
      if (i) out.push(document.createElement("wbr"));
      out.push(h("span", { class: "nw" }, piece));
    });
  }
  return out;
}

/** A panel whose heading is a button that shows or hides its body (aria-expanded). The open
 * state survives redraws; `collapsedOn(width)` decides the first state (e.g. phones). */
export function collapsible(root, { id, title, level = "h2", startCollapsed = false }) {
  const body = h("div", { class: "panel-body", id: `${id}-body` });
  const btn = h("button", { type: "button", class: "panel-toggle", "aria-expanded": String(!startCollapsed),
    "aria-controls": `${id}-body`, dataset: { key: `toggle-${id}` } }, h("span", { class: "toggle-mark", "aria-hidden": "true" }), title);
  const heading = h(level, { id: `${id}-h`, class: "panel-h" }, btn);
  const set = (open) => {
    btn.setAttribute("aria-expanded", String(open));
    body.hidden = !open;
    root.classList.toggle("collapsed", !open);
  };
  btn.addEventListener("click", () => set(btn.getAttribute("aria-expanded") !== "true"));
  set(!startCollapsed);
  fill(root, heading, body);
  return { body, heading, open: () => set(true), close: () => set(false), isOpen: () => !body.hidden };
}

/** Is the layout the phone one (one column)? */
export const narrow = () => window.matchMedia("(max-width: 699px)").matches;
