// The Pareto plot of a train job: its completed trials on two figures the user picks, the front
// the API computes on them (GET .../pareto?objectives=x,y&others=true), the job's constraints, and
// the trials its running inference jobs serve.
import { api, seg } from './api.js';
import { errorBox, fill, fmtBytes, fmtNumber, h, table, whenChanged } from './dom.js';
import { defaultParetoAxes, directionOf } from './analysis.js';
import { makeChart, paretoOption } from './charts.js';

const BETTER = [['maximize', 'higher'], ['minimize', 'lower']];

/**
 * The section, and `refresh(job)` to call at each poll of the job. It reads the front again only
 * when the axes, the job's trials by status or its constraints have changed, the served trials at
 * every call, and draws again only when any of these has changed.
 */
export function paretoSection(base, owner, job, asOwner) {
  const chart = makeChart('Pareto front of the completed trials on the two chosen figures', 'tall');
  const note = h('p', { 'aria-live': 'polite' });
  const frontTable = h('div');
  const axes = defaultParetoAxes(job);
  const controls = ['X', 'Y'].map((label, i) => ({
    metric: h('select', { id: `pareto-${label.toLowerCase()}` }),
    better: h('select', { id: `pareto-${label.toLowerCase()}-better` },
      BETTER.map(([v, text]) => h('option', { value: v, selected: v === axes[i].direction }, text))),
    label,
  }));
  let names = [];
  let latest = job;
  let answer = null;      // the last front read, and what it was read for
  let answerFor = null;
  const drawn = whenChanged();   // what the plot shows
  let calls = 0;          // only the latest call draws (an axis changed while a poll was reading)

  const redraw = () => refresh(latest).catch((err) => fill(note, errorBox(err)));
  controls.forEach((c, i) => {
    c.metric.addEventListener('change', () => {
      axes[i] = { name: c.metric.value, direction: directionOf(latest, c.metric.value) };
      c.better.value = axes[i].direction;
      redraw();
    });
    c.better.addEventListener('change', () => { axes[i].direction = c.better.value; redraw(); });
  });
  chart.on('click', (p) => {
    if (p.data && p.data.id) location.assign(`/web/trials/${seg(p.data.id)}${asOwner}`);
  });

  const el = h('section', {},
    h('h2', {}, 'Pareto front'),
    h('div', { class: 'toolbar' }, controls.flatMap((c) => [
      h('div', { class: 'field' }, h('label', { for: c.metric.id }, `${c.label} axis`), c.metric),
      h('div', { class: 'field' }, h('label', { for: c.better.id }, `${c.label} axis: better when`), c.better)])),
    note, chart.el, frontTable);

  function drawChoices() {
    for (const [i, c] of controls.entries()) {
      const options = names.includes(axes[i].name) ? names : [...names, axes[i].name];
      if ([...c.metric.options].map((o) => o.value).join() !== options.join()) {
        fill(c.metric, options.map((n) => h('option', { value: n, selected: n === axes[i].name }, n)));
      }
      c.metric.value = axes[i].name;
    }
  }

  /** The trial ids served by the job's running inference jobs (none when that cannot be read). */
  async function deployedTrials() {
    const jobs = await api.get(`/inference_jobs/${seg(latest.app)}`, owner).catch(() => []);
    return new Set(jobs.filter((j) => j.train_job_id === latest.id && j.status === 'RUNNING')
      .flatMap((j) => j.workers.map((w) => w.trial_id)));
  }

  async function refresh(current) {
    latest = current;
    const call = ++calls;
    const [x, y] = axes;
    if (x.name === y.name) {
      drawChoices();
      fill(note, 'Pick two different figures to plot against each other.');
      chart.el.hidden = true;
      drawn.forget();
      return;
    }
    const objectives = axes.map((a) => `${a.name}:${a.direction}`).join(',');
    const readFor = JSON.stringify([objectives, current.sub_train_jobs.map((s) => s.trials),
      (current.advisor_config || {}).constraints]);
    const [read, deployed] = await Promise.all([readFor === answerFor ? answer
      : api.get(`${base}/pareto`, { ...owner, objectives, others: 'true' }), deployedTrials()]);
    if (call !== calls) return;
    [answer, answerFor] = [read, readFor];
    await drawn([readFor, [...deployed].sort()], () => draw(x, y, deployed));
  }

  function draw(x, y, deployed) {
    const trials = [...answer.trials, ...answer.others];
    names = [...new Set(trials.flatMap((t) => Object.keys(t.values)))].sort();
    drawChoices();
    const plotted = (t) => typeof t.values[x.name] === 'number' && typeof t.values[y.name] === 'number';
    const onFront = new Set(answer.trials.map((t) => t.id));
    const point = (t) => ({ value: [t.values[x.name], t.values[y.name]], id: t.id, tip: tip(t, onFront, deployed) });
    const points = {
      front: answer.trials.map(point),
      dominated: answer.others.filter((t) => t.feasible && plotted(t)).map(point),
      infeasible: answer.others.filter((t) => !t.feasible && plotted(t)).map(point),
      deployed: trials.filter((t) => deployed.has(t.id) && plotted(t)).map(point),
    };
    const bound = (name) => answer.constraints.filter((c) => c.name === name)
      .flatMap((c) => [['min', c.min], ['max', c.max]].filter(([, v]) => v !== undefined)
        .map(([side, v]) => [v, `${side} ${fmtNumber(v)}`]));
    const missing = trials.length - trials.filter(plotted).length;
    fill(note, !trials.length ? 'No completed trial yet.'
      : `${answer.trials.length} of ${trials.length} completed trials on the front of ${y.name} and ${x.name}`
        + (answer.constraints.length ? `, among those meeting ${answer.constraints.map(describe).join(' and ')}` : '')
        + (missing ? `; ${missing} without both figures are left out` : '')
        + '. Click a point to open its trial.');
    chart.el.hidden = !trials.length;
    if (!chart.el.hidden) chart.set(paretoOption(x, y, points, { x: bound(x.name), y: bound(y.name) }));
    fill(frontTable, table('The trials on the Pareto front', ['Trial', 'Template', y.name, x.name, 'Deployed'],
      [...answer.trials].sort((a, b) => a.values[x.name] - b.values[x.name]).map((t) => [
        h('a', { href: `/web/trials/${seg(t.id)}${asOwner}` }, `#${t.no}`), t.model_name,
        fmtNumber(t.values[y.name]), fmtNumber(t.values[x.name]), deployed.has(t.id) ? 'yes' : '']),
      { empty: 'No trial is on the front yet.' }));
  }

  return { el, refresh };
}

function describe(c) {
  if (c.min !== undefined && c.max !== undefined) return `${fmtNumber(c.min)} <= ${c.name} <= ${fmtNumber(c.max)}`;
  if (c.max !== undefined) return `${c.name} <= ${fmtNumber(c.max)}`;
  return c.min !== undefined ? `${c.name} >= ${fmtNumber(c.min)}` : `${c.name} measured`;
}

/** A trial's figures, one line each, for its tooltip. */
function tip(t, onFront, deployed) {
  const where = onFront.has(t.id) ? 'on the Pareto front' : t.feasible ? 'dominated' : 'outside the constraints';
  return [`Trial #${t.no} · ${t.model_name}`, where + (deployed.has(t.id) ? ' · deployed' : ''),
    ...Object.entries(t.values).map(([k, v]) => `${k}: ${k === 'params_bytes' ? fmtBytes(v) : fmtNumber(v)}`)];
}
