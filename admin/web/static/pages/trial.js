// One trial: knobs, status, the plots its template defined (metric curves), messages, parameters.
import { api, download, seg } from '../api.js';
import { actionButton, every, facts, fill, fmtDuration, fmtScore, fmtTime, fmtValue, h, statusBadge, table }
  from '../dom.js';
import { LIVE_TRIAL, plotSeries, unplottedMetrics } from '../analysis.js';
import { linesOption, makeChart } from '../charts.js';
import { ownerQuery } from '../owner.js';
import { jobHref } from './train_jobs.js';

const TICK_MS = 2000;

export async function trialPage(main, [trialId], { user: me } = {}) {
  const path = `/trials/${seg(trialId)}`;
  let trial = await api.get(path);
  const owner = ownerQuery();   // the job's owner when an admin came from another user's job
  const job = await api.get('/train_jobs', owner).then((jobs) => jobs.find((j) => j.id === trial.train_job_id),
    () => null);
  document.title = `Trial ${trial.no} of ${trial.model_name} · SingaAuto`;

  const errors = h('div');
  const heading = h('div');
  const summary = h('div');
  const knobs = h('div');
  const charts = h('div', { class: 'charts' });
  const chartNote = h('div');
  const messages = h('div');
  const actionsSlot = h('div');
  const back = job ? h('a', { href: jobHref(job, me) }, `← ${job.app} version ${job.app_version}`)
    : h('a', { href: '/web/train-jobs' }, '← Train jobs');
  fill(main, h('p', {}, back), heading, errors, summary, actionsSlot,
    h('h2', {}, 'Knobs'), knobs, h('h2', {}, 'Metric curves'), chartNote, charts, h('h2', {}, 'Messages'), messages);

  const logs = { plots: [], metrics: [], messages: [], last_id: 0 };
  const plotCharts = new Map();   // title -> chart

  function drawTrial() {
    fill(heading, h('h1', {}, `Trial #${trial.no} of ${trial.model_name} `, statusBadge(trial.status)));
    fill(summary, facts([['Score', fmtScore(trial.score)], ['Error', trial.error], ['Phase', trial.phase],
      ['Worker', trial.worker_id], ['Attempt', String(trial.attempt)], ['Retry of', trial.retry_of],
      ['Started', fmtTime(trial.started_at)], ['Stopped', fmtTime(trial.stopped_at)],
      ['Duration', fmtDuration(trial.duration_seconds)],
      ['Parameters', trial.is_params_saved ? 'saved' : 'not saved']]));
    fill(knobs, table(`The knobs of trial #${trial.no}`, ['Knob', 'Value'],
      Object.entries(trial.knobs).map(([k, v]) => [h('code', {}, k), fmtValue(v)])));
    fill(actionsSlot, trial.is_params_saved ? h('div', { class: 'actions' },
      actionButton('Download the parameters', errors, () => download(`${path}/parameters`, `${trial.id}.params`)),
      h('span', { class: 'hint' }, 'Pickle-free; read them with singa.param_store.decode_params')) : null);
  }

  function chartFor(key, label) {
    if (!plotCharts.has(key)) {
      const chart = makeChart(label);
      plotCharts.set(key, chart);
      charts.append(chart.el);
    }
    return plotCharts.get(key);
  }

  function drawLogs() {
    for (const plot of logs.plots) {
      const x = plot.x_axis || 'time';
      chartFor(`plot:${plot.title}`, `${plot.title}: ${plot.metrics.join(', ')} against ${x}`)
        .set(linesOption(plot.title, x, plot.x_axis ? 'value' : 'time', plotSeries(plot, logs.metrics)));
    }
    const plotted = logs.plots.some((p) => p.metrics.includes('intermediate_score'));
    if (trial.intermediate.length && !plotted) {
      chartFor('intermediate', 'Intermediate scores reported to the advisor').set(linesOption(
        'Intermediate scores', 'step', 'value', [{ name: 'score', points: trial.intermediate }], 'score'));
    }
    const rest = unplottedMetrics(logs.plots, logs.metrics);
    const curves = rest.curves.filter((n) => !(trial.intermediate.length && ['step', 'intermediate_score'].includes(n)));
    if (curves.length) {
      chartFor('rest', `Other logged metrics over time: ${curves.join(', ')}`).set(linesOption('Other logged metrics',
        'time', 'time', plotSeries({ metrics: curves, x_axis: null }, logs.metrics)));
    }
    const once = Object.entries(rest.once);
    fill(chartNote,
      once.length ? facts(once.map(([k, v]) => [`${k} (logged once)`, fmtValue(v)])) : null,
      plotCharts.size || once.length ? null : h('p', { class: 'empty' },
        'No metrics logged yet. A template defines plots with logger.define_plot(title, metrics, x_axis) '
        + 'and logs values with logger.log(name=value).'));
    fill(messages, table(null, ['Time', 'Level', 'Message'],
      logs.messages.map((m) => [fmtTime(m.time), m.level, m.message]), { empty: 'No messages.' }));
  }

  let first = true;
  every(TICK_MS, async () => {
    if (!first) trial = await api.get(path);
    const more = await api.get(`${path}/logs`, { after_id: logs.last_id });
    logs.plots.push(...more.plots);
    logs.metrics.push(...more.metrics);
    logs.messages.push(...more.messages);
    logs.last_id = more.last_id;
    drawTrial();
    drawLogs();
    first = false;
    return LIVE_TRIAL.includes(trial.status);
  }, errors);
}
