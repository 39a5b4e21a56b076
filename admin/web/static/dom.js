// Building pages from elements and text nodes: every piece of data stays text, never markup.
import { ApiError } from './api.js';

/**
 * h('a', {href: '/x', class: 'btn', onclick: fn}, 'text', child, [more children])
 * Attributes named on* are event listeners; null, undefined and false attributes and children are
 * skipped.
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    // As attributes, value, checked and selected are also what form.reset() returns to.
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace everything in `el` with `children`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A <table> with a caption, column headings and rows of cells (strings or nodes). */
export function table(caption, headings, rows, { empty = 'Nothing yet.', rowClass } = {}) {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  return h('div', { class: 'table-wrap' },
    h('table', {},
      caption ? h('caption', {}, caption) : null,
      h('thead', {}, h('tr', {}, headings.map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows.map((cells, i) => h('tr', { class: rowClass ? rowClass(i) : null },
        cells.map((c) => h('td', {}, c)))))));
}

/** A definition list from [term, value] pairs (values may be nodes). */
export function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(Boolean).map(([term, value]) => [
    h('dt', {}, term), h('dd', {}, value === null || value === undefined || value === '' ? '—' : value)]));
}

// -- errors ----------------------------------------------------------------------------------

/** A mistake in what the person entered, found before anything was sent. */
export class InputError extends Error {
  constructor(message) { super(message); this.name = 'InputError'; }
}

/** An alert box for any error (ApiError or not); screen readers announce it. */
export function errorBox(err) {
  let [title, text] = ['Something went wrong in this page', String((err && err.message) || err)];
  if (err instanceof ApiError) [title, text] = err.describe();
  else if (err instanceof InputError) title = 'Please check the form';
  const box = h('div', { class: 'alert error', role: 'alert' }, h('strong', {}, title + ': '), text);
  if (err instanceof ApiError && err.status === 401 && location.pathname !== '/web/login') {
    box.append(' ', h('a', { href: loginHref() }, 'Log in again'));
  }
  return box;
}

export function loginHref() {
  return '/web/login?next=' + encodeURIComponent(location.pathname + location.search);
}

/** Show `err` in `slot` (an element emptied first). */
export function showError(slot, err) {
  fill(slot, errorBox(err));
  slot.scrollIntoView({ block: 'nearest' });
}

export function notice(text) {
  return h('div', { class: 'alert ok', role: 'status' }, text);
}

/** Run `action` when `form` is submitted: the button is disabled meanwhile, errors go to `slot`. */
export function onSubmit(form, slot, action) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const buttons = form.querySelectorAll('button');
    buttons.forEach((b) => { b.disabled = true; });
    fill(slot);
    try {
      await action(new FormData(form));
    } catch (err) {
      showError(slot, err);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  });
}

/** A button that runs `action` (after `confirmText` is confirmed, if given), errors into `slot`. */
export function actionButton(label, slot, action, { confirmText, className = 'secondary' } = {}) {
  const button = h('button', { type: 'button', class: className }, label);
  button.addEventListener('click', async () => {
    if (confirmText && !window.confirm(confirmText)) return;
    button.disabled = true;
    fill(slot);
    try {
      await action();
    } catch (err) {
      showError(slot, err);
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

// -- form fields -----------------------------------------------------------------------------

let fieldCount = 0;

/** A labelled control: field('Name', h('input', {name: 'name'}), 'hint'). */
export function field(label, control, hint) {
  const id = control.id || `f${++fieldCount}`;
  control.id = id;
  const hintId = hint ? `${id}-hint` : null;
  if (hintId) control.setAttribute('aria-describedby', hintId);
  return h('div', { class: 'field' }, h('label', { for: id }, label), control,
    hint ? h('small', { id: hintId, class: 'hint' }, hint) : null);
}

export function select(name, options, { value, required = true, placeholder } = {}) {
  return h('select', { name, required },
    placeholder ? h('option', { value: '' }, placeholder) : null,
    options.map((o) => {
      const [v, label] = Array.isArray(o) ? o : [o, o];
      return h('option', { value: v, selected: v === value }, label);
    }));
}

// -- formatting ------------------------------------------------------------------------------

export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return h('time', { datetime: iso, title: iso }, d.toLocaleString());
}

export function fmtScore(score) {
  return score === null || score === undefined ? '—' : Number(score).toFixed(4);
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

/** A number in at most 4 significant digits; very small or large ones as 1e-6. */
export function fmtNumber(x) {
  if (!Number.isFinite(x) || (Number.isInteger(x) && Math.abs(x) < 1e9)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return x.toExponential(3).replace(/\.?0+e/, 'e');
  return String(Number(x.toPrecision(4)));
}

export function fmtValue(value) {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'number') return fmtNumber(value);
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export function statusBadge(status) {
  return h('span', { class: `status status-${String(status).toLowerCase()}` }, status);
}

// -- live updates ----------------------------------------------------------------------------

/** The wait between reads of a list or a job while something on it is starting or running. */
export const LIVE_TICK_MS = 3000;
/** ... and while nothing is: it may still change elsewhere (stopped, resumed, deployed). */
export const QUIET_TICK_MS = 5000;

/**
 * Call `tick` now and then every `ms` milliseconds after it finishes (never overlapping), while
 * it returns true, or a number of milliseconds to wait instead of `ms`; paused while the tab is
 * hidden. A failing tick shows its error in `slot` and is retried at the next interval. Returns a
 * function that stops it.
 */
export function every(ms, tick, slot) {
  let stopped = false;
  let timer = null;
  const run = async () => {
    timer = null;
    if (stopped) return;
    if (document.hidden) { timer = setTimeout(run, ms); return; }
    let again = true;
    try {
      again = await tick();
      if (slot) fill(slot);
    } catch (err) {
      if (slot) fill(slot, errorBox(err), h('p', { class: 'hint' }, 'Live updates will try again.'));
      again = !(err instanceof ApiError && (err.status === 401 || err.status === 404));
    }
    if (again && !stopped) timer = setTimeout(run, typeof again === 'number' ? again : ms);
  };
  run();
  return () => { stopped = true; if (timer) clearTimeout(timer); };
}

/**
 * A memory of what was last acted on: `await ifChanged(value, action)` runs `action()` only when
 * `value` differs (compared as JSON) from the value of the last call whose action finished, and
 * says whether it ran. `ifChanged.forget()` makes the next call run.
 */
export function whenChanged() {
  let doneFor = null;
  const ifChanged = async (value, action) => {
    const signature = JSON.stringify(value);
    if (signature === doneFor) return false;
    await action();
    doneFor = signature;
    return true;
  };
  ifChanged.forget = () => { doneFor = null; };
  return ifChanged;
}

/**
 * Show what `read()` answers and keep it current with every(): `draw(data)` runs only when the
 * data differ from what was drawn last, and `pace(data)` is what the tick returns (true: wait `ms`,
 * a number: wait that long, false: stop). Returns a function that reads and draws at once, for
 * after an action on the page.
 */
export function follow(ms, read, draw, pace, slot) {
  const drawn = whenChanged();
  const update = async () => {
    const data = await read();
    await drawn(data, () => draw(data));
    return pace(data);
  };
  every(ms, update, slot);
  return update;
}
