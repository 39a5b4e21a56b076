// What the train job page computes from its trials (pure functions, no DOM): best score so far,
// quartiles per template, and the dimensions of a template's knob space.

export const FINISHED = ['COMPLETED', 'PRUNED', 'ERRORED', 'STOPPED'];
export const LIVE_JOB = ['STARTED', 'RUNNING', 'STOPPING'];
export const LIVE_TRIAL = ['PENDING', 'RUNNING'];

/** Completed trials with a score, in the order they finished. */
export function scoredInFinishOrder(trials) {
  return trials
    .filter((t) => t.status === 'COMPLETED' && t.score !== null && t.score !== undefined)
    .sort((a, b) => (Date.parse(a.stopped_at) || 0) - (Date.parse(b.stopped_at) || 0) || a.no - b.no);
}

/**
 * Best score so far, per template and over all of them.
 * Returns {byTrial: [{name, points: [[nth finished trial, best]]}], byTime: [{name, points:
 * [[time since start, best]]}], timeUnit ('seconds', 'minutes' or 'hours', whichever reads best),
 * scores: [[nth, score, model_name, trial id]]}.
 */
export function bestSoFar(trials, startedAt) {
  const ordered = scoredInFinishOrder(trials);
  const start = Date.parse(startedAt) || (ordered.length ? Date.parse(ordered[0].started_at) : 0);
  const elapsed = ordered.map((t) => Math.max(0, ((Date.parse(t.stopped_at) || start) - start) / 1000));
  const span = elapsed.length ? elapsed[elapsed.length - 1] : 0;
  const [timeUnit, divisor] = span < 120 ? ['seconds', 1] : span < 7200 ? ['minutes', 60] : ['hours', 3600];
  const lines = new Map([['All templates', { byTrial: [], byTime: [], best: -Infinity }]]);
  const scores = [];
  ordered.forEach((t, i) => {
    scores.push([i + 1, t.score, t.model_name, t.id]);
    for (const name of ['All templates', t.model_name]) {
      if (!lines.has(name)) lines.set(name, { byTrial: [], byTime: [], best: -Infinity });
      const line = lines.get(name);
      if (t.score > line.best) {
        line.best = t.score;
        line.byTrial.push([i + 1, t.score]);
        line.byTime.push([round(elapsed[i] / divisor), t.score]);
      }
    }
  });
  // Each line continues flat to the last finished trial, so the step plot reaches the right edge.
  const byTrial = [];
  const byTime = [];
  for (const [name, line] of lines) {
    if (!line.byTrial.length) continue;
    byTrial.push({ name, points: [...line.byTrial, [ordered.length, line.best]] });
    byTime.push({ name, points: [...line.byTime, [round(span / divisor), line.best]] });
  }
  return { byTrial, byTime, timeUnit, scores };
}

function round(x) { return Math.round(x * 1000) / 1000; }

/** Quartiles of numbers: [min, q1, median, q3, max] (linear interpolation). */
export function quartiles(values) {
  const v = [...values].sort((a, b) => a - b);
  if (!v.length) return null;
  const q = (p) => {
    const pos = (v.length - 1) * p;
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    return v[lo] + (v[hi] - v[lo]) * (pos - lo);
  };
  return [v[0], q(0.25), q(0.5), q(0.75), v[v.length - 1]];
}

/** Per template: trial counts, best, median, scores, mean duration of finished trials. */
export function compareTemplates(trials) {
  const by = new Map();
  for (const t of trials) {
    if (!by.has(t.model_name)) by.set(t.model_name, { name: t.model_name, total: 0, completed: 0, scores: [], durations: [] });
    const m = by.get(t.model_name);
    m.total += 1;
    if (t.status === 'COMPLETED' && t.score !== null) { m.completed += 1; m.scores.push(t.score); }
    if (t.duration_seconds !== null && t.duration_seconds !== undefined) m.durations.push(t.duration_seconds);
  }
  return [...by.values()].map((m) => ({
    ...m,
    best: m.scores.length ? Math.max(...m.scores) : null,
    quartiles: quartiles(m.scores),
    meanDuration: m.durations.length ? m.durations.reduce((a, b) => a + b, 0) / m.durations.length : null,
  })).sort((a, b) => (b.best ?? -Infinity) - (a.best ?? -Infinity));
}

/**
 * The searched knobs of a template as plot dimensions: [{name, kind: 'value'|'log'|'category',
 * categories}]. Types and log scales come from the knob config when given (GET /models/<id>),
 * otherwise from the values the trials took. Knobs that never varied are left out.
 */
export function knobDimensions(trials, knobConfig) {
  const declared = new Map(((knobConfig && knobConfig.knobs) || []).map((k) => [k.name, k]));
  const names = [];
  for (const t of trials) {
    for (const name of Object.keys(t.knobs || {})) if (!names.includes(name)) names.push(name);
  }
  const dims = [];
  for (const name of names) {
    const knob = declared.get(name);
    if (knob && (knob.type === 'FixedKnob' || knob.type === 'PolicyKnob')) continue;
    const values = trials.map((t) => t.knobs[name]).filter((v) => v !== null && v !== undefined);
    const distinct = [...new Set(values.map(categoryKey))];
    if (distinct.length < 2) continue;
    const numeric = values.every((v) => typeof v === 'number');
    if (numeric && !(knob && knob.type === 'CategoricalKnob')) {
      dims.push({ name, kind: knob && knob.is_exp && Math.min(...values) > 0 ? 'log' : 'value' });
    } else {
      const order = knob && knob.type === 'CategoricalKnob' ? knob.values.map(categoryKey) : distinct.sort();
      dims.push({ name, kind: 'category', categories: order.filter((v) => distinct.includes(v)) });
    }
  }
  return dims;
}

/** How a categorical value is named on an axis: a string as itself, anything else as JSON. */
export function categoryKey(value) {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The value of a knob on a dimension's axis. */
export function axisValue(dim, value) {
  if (value === null || value === undefined) return null;
  return dim.kind === 'category' ? categoryKey(value) : value;
}

/**
 * The points of one plot the template defined with logger.define_plot(title, metrics, x_axis):
 * for each metric, [[x, y]] from the logged metrics lines that have it (x is the x_axis metric,
 * or the time of the line when the plot has none).
 */
export function plotSeries(plot, metrics) {
  return plot.metrics.map((name) => ({
    name,
    points: metrics
      .filter((m) => typeof m[name] === 'number' && (plot.x_axis ? typeof m[plot.x_axis] === 'number' : true))
      .map((m) => [plot.x_axis ? m[plot.x_axis] : m.time, m[name]]),
  }));
}

/**
 * Metrics logged but in no defined plot, so that nothing logged is hidden: {curves: names logged
 * more than once (drawn over time), once: {name: value} of those logged a single time}.
 */
export function unplottedMetrics(plots, metrics) {
  const plotted = new Set(plots.flatMap((p) => [...p.metrics, p.x_axis].filter(Boolean)));
  const seen = new Map();
  for (const m of metrics) {
    for (const [k, v] of Object.entries(m)) {
      if (k === 'time' || plotted.has(k)) continue;
      seen.set(k, [...(seen.get(k) || []), v]);
    }
  }
  const curves = [...seen].filter(([, vs]) => vs.length > 1).map(([k]) => k);
  const once = Object.fromEntries([...seen].filter(([, vs]) => vs.length === 1).map(([k, vs]) => [k, vs[0]]));
  return { curves, once };
}

// -- the Pareto plot -------------------------------------------------------------------------

/** Figures the platform measures of every completed trial: lower is better. */
export const MEASURED = ['predict_latency_ms', 'params_bytes'];

/** Which way `name` is better: as the job's objective says, else lower for a measured figure. */
export function directionOf(job, name) {
  const objective = ((job.advisor_config && job.advisor_config.objectives) || []).find((o) => o.name === name);
  if (objective) return objective.direction || 'maximize';
  return MEASURED.includes(name) ? 'minimize' : 'maximize';
}

/** The axes a Pareto plot starts with, [x, y]: the job's second and first objectives, else
 * predict_latency_ms and score. */
export function defaultParetoAxes(job) {
  const objectives = (job.advisor_config && job.advisor_config.objectives) || [];
  const [y, x] = objectives.length >= 2 ? objectives.map((o) => o.name) : ['score', 'predict_latency_ms'];
  return [x, y].map((name) => ({ name, direction: directionOf(job, name) }));
}

/**
 * The staircase that joins the points of a front ([[x, y]]; better means `xDir`/`yDir`):
 * between two neighbours it turns at their worse x and worse y, so that it bounds what the front
 * dominates.
 */
export function paretoSteps(points, xDir, yDir) {
  const worse = (dir, a, b) => (dir === 'minimize' ? Math.max(a, b) : Math.min(a, b));
  const sorted = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const steps = [];
  sorted.forEach((p, i) => {
    if (i) steps.push([worse(xDir, sorted[i - 1][0], p[0]), worse(yDir, sorted[i - 1][1], p[1])]);
    steps.push(p);
  });
  return steps;
}

/** Whether an axis of these values reads better on a log scale (all positive, over 100 times apart). */
export function wantsLogAxis(values) {
  return values.length > 1 && Math.min(...values) > 0 && Math.max(...values) / Math.min(...values) >= 100;
}
