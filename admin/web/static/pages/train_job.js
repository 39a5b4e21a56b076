// One train job, live while it runs: trials, best score so far, score against each knob, parallel
// coordinates, hyperparameter importance, a comparison of the templates and the Pareto front.
import { api, getAll, seg } from '../api.js';
import { QUIET_TICK_MS, every, facts, fill, fmtDuration, fmtScore, fmtTime, fmtValue, h, statusBadge, table, whenChanged }
  from '../dom.js';
import { LIVE_JOB, bestSoFar, compareTemplates, knobDimensions } from '../analysis.js';
import { bestSoFarOption, comparisonOption, importanceOption, knobScatterOption, makeChart, parallelOption }
  from '../charts.js';
import { logsSection } from '../logs.js';
import { paretoSection } from '../pareto.js';
import { asOwner as ownerSuffix, ownerQuery } from '../owner.js';
import { stopButton } from './train_jobs.js';

const TICK_MS = 2000;
const IMPORTANCE_MIN_MS = 8000;
const MAX_ROWS = 500;

export async function trainJobPage(main, [app, version], { user: me } = {}) {
  const base = `/train_jobs/${seg(app)}/${version}`;
  const owner = ownerQuery();             // an admin looking at another user's job
  let job = await api.get(base, owner);   // a 404 here is the page's error (not yours / no such job)
  const own = !me || job.owner_id === me.id;
  const asOwner = ownerSuffix(job, me);   // keeps another user's pages linked
  document.title = `${job.app} v${job.app_version} · Train jobs · SingaAuto`;

  const errors = h('div');
  const liveStatus = h('p', { class: 'live', 'aria-live': 'polite' });
  const heading = h('div');
  const summary = h('div');
  const templatesTable = h('div');
  const comparison = makeChart('Box plots of the scores of each template');
  const bestByTrial = makeChart('Best score so far against the number of finished trials');
  const bestByTime = makeChart('Best score so far against the time since the job started');
  const templateSelect = h('select', { id: 'knob-template' });
  const knobNote = h('div');
  const scatterGrid = h('div', { class: 'charts' });
  const parallel = makeChart('Parallel coordinates of the knobs and the score of each completed trial', 'tall');
  const importance = makeChart('Hyperparameter importance of the chosen template');
  const importanceNote = h('p', { class: 'hint' });
  const trialsSummary = h('p', { 'aria-live': 'polite' });
  const trialsTable = h('div');
  const pareto = paretoSection(base, owner, job, asOwner);

  fill(main,
    h('p', {}, h('a', { href: `/web/train-jobs${asOwner}` }, '← Train jobs')),
    heading, errors, summary,
    h('h2', {}, 'Templates compared'), templatesTable, h('div', { class: 'charts' }, comparison.el),
    h('h2', {}, 'Best score so far'), h('div', { class: 'charts' }, bestByTrial.el, bestByTime.el),
    h('h2', {}, 'Knobs and scores'),
    h('div', { class: 'toolbar' }, h('div', { class: 'field' }, h('label', { for: 'knob-template' }, 'Template to plot'),
      templateSelect)),
    knobNote, scatterGrid, parallel.el,
    h('h3', {}, 'Hyperparameter importance'), importanceNote, importance.el, pareto.el,
    h('h2', {}, 'Trials'), trialsSummary, trialsTable, logsSection(base, owner));

  const knobConfigs = new Map();         // model_id -> knob_config, or null when it cannot be read
  const scatterCharts = new Map();       // knob name -> chart
  const seen = new Set();
  let trials = [];
  let importances = null;
  let importanceAt = 0;
  let importanceCompleted = -1;
  let chosen = null;

  templateSelect.addEventListener('change', () => { chosen = templateSelect.value; drawKnobs(); drawImportance(); });

  function drawHeading() {
    const live = LIVE_JOB.includes(job.status);
    fill(heading, h('h1', {}, `Train job ${job.app} · version ${job.app_version} `, statusBadge(job.status)),
      live ? liveStatus : null,
      h('div', { class: 'actions' },
        live ? stopButton(job, errors, tick) : null,
        own && job.status === 'STOPPED' && job.trials_completed > 0
          ? h('a', { class: 'button', href: `/web/inference-jobs/new?app=${seg(job.app)}&version=${job.app_version}` },
            'Deploy as an inference job') : null));
    fill(summary, facts([
      ['Task', job.task], ['Error', job.error],
      ['Trials', `${job.trials_completed} completed of ${job.trials_total}`], ['Best score', fmtScore(job.best_score)],
      ['Budget', Object.entries(job.budget).map(([k, v]) => `${k} ${v}`).join(', ')],
      ['Advisor', Object.entries(job.advisor_config).map(([k, v]) => `${k} ${fmtValue(v)}`).join(', ')],
      ['Train arguments', Object.keys(job.train_args).length ? JSON.stringify(job.train_args) : null],
      ['Created', fmtTime(job.created_at)], ['Started', fmtTime(job.started_at)],
      ['Deadline', fmtTime(job.deadline_at)], ['Stopped', fmtTime(job.stopped_at)]]));
  }

  function drawTemplates() {
    const compared = new Map(compareTemplates(trials).map((m) => [m.name, m]));
    fill(templatesTable, table('Each template of this job', ['Template', 'Status', 'Trials', 'Best score',
      'Median score', 'Mean trial time', 'Error'], job.sub_train_jobs.map((s) => {
      const m = compared.get(s.model_name);
      return [h('a', { href: `/web/models/${seg(s.model_id)}` }, s.model_name), statusBadge(s.status),
        Object.entries(s.trials).map(([k, v]) => `${v} ${k.toLowerCase()}`).join(', ') || 'none yet',
        fmtScore(s.best_score), fmtScore(m && m.quartiles ? m.quartiles[2] : null),
        fmtDuration(m ? m.meanDuration : null), s.error || ''];
    })));
    const models = [...compared.values()].filter((m) => m.scores.length);
    comparison.set(comparisonOption(models));
  }

  function drawBest() {
    const best = bestSoFar(trials, job.started_at);
    bestByTrial.set(bestSoFarOption('Best score over trials', 'Trials finished', best.byTrial, best.scores));
    const unit = best.timeUnit[0].toUpperCase() + best.timeUnit.slice(1);
    bestByTime.set(bestSoFarOption('Best score over time', `${unit} since the job started`, best.byTime, null));
  }

  function drawTemplateChoice() {
    const subs = job.sub_train_jobs;
    if (!chosen || !subs.some((s) => s.id === chosen)) {
      const best = [...subs].sort((a, b) => (b.best_score ?? -Infinity) - (a.best_score ?? -Infinity))[0];
      chosen = best ? best.id : null;
    }
    if (templateSelect.options.length !== subs.length) {
      fill(templateSelect, subs.map((s) => h('option', { value: s.id, selected: s.id === chosen }, s.model_name)));
    }
  }

  async function drawKnobs() {
    const sub = job.sub_train_jobs.find((s) => s.id === chosen);
    if (!sub) return;
    if (!knobConfigs.has(sub.model_id)) {
      knobConfigs.set(sub.model_id, await api.get(`/models/${seg(sub.model_id)}`).then((m) => m.knob_config, () => null));
    }
    const own = trials.filter((t) => t.sub_train_job_id === sub.id);
    const dims = knobDimensions(own, knobConfigs.get(sub.model_id));
    const completed = own.filter((t) => t.status === 'COMPLETED' && t.score !== null);
    if (!dims.length || !completed.length) {
      fill(knobNote, h('p', { class: 'empty' }, !completed.length ? `No completed trial of ${sub.model_name} yet.`
        : `The trials of ${sub.model_name} have not varied any knob yet.`));
    } else {
      fill(knobNote);
    }
    for (const [name, chart] of scatterCharts) {
      if (!dims.some((d) => d.name === name)) { chart.el.remove(); scatterCharts.delete(name); }
    }
    for (const dim of dims) {
      if (!scatterCharts.has(dim.name)) {
        const chart = makeChart(`Score against the knob ${dim.name}`, 'small');
        scatterCharts.set(dim.name, chart);
        scatterGrid.append(chart.el);
      }
      scatterCharts.get(dim.name).set(knobScatterOption(dim, completed));
    }
    parallel.el.hidden = !dims.length || !completed.length;
    if (!parallel.el.hidden) {
      parallel.set(parallelOption(`Parallel coordinates: ${sub.model_name}`, dims, completed));
    }
  }

  /** Read again when trials have completed since: while the job runs, at most every IMPORTANCE_MIN_MS. */
  async function refreshImportance(live) {
    const completed = job.trials_completed;
    if (completed === importanceCompleted || (live && Date.now() - importanceAt < IMPORTANCE_MIN_MS)) return;
    importanceAt = Date.now();
    importances = await api.get(`${base}/importance`, owner);
    importanceCompleted = completed;
    drawImportance();
  }

  function drawImportance() {
    const entry = importances && importances.find((e) => e.sub_train_job_id === chosen);
    const values = entry ? entry.importances : {};
    importance.el.hidden = !Object.keys(values).length;
    if (!entry) { importanceNote.textContent = 'Not computed yet.'; return; }
    importanceNote.textContent = `${entry.method} over ${entry.trials_used} completed trials of ${entry.model_name}.`
      + (entry.note ? ` ${entry.note}.` : '')
      + (entry.not_assessed.length ? ` Not assessed: ${entry.not_assessed.join(', ')}.` : '');
    if (!importance.el.hidden) importance.set(importanceOption(`Importance of the knobs of ${entry.model_name}`, values));
  }

  function drawTrials(first) {
    const counts = {};
    for (const t of trials) counts[t.status] = (counts[t.status] || 0) + 1;
    trialsSummary.textContent = `${trials.length} trials` + (trials.length ? ': ' : '')
      + Object.entries(counts).map(([k, v]) => `${v} ${k.toLowerCase()}`).join(', ') + '.';
    const shown = trials.slice(0, MAX_ROWS);
    const fresh = new Set(shown.filter((t) => !seen.has(`${t.id}:${t.status}`)).map((t) => t.id));
    shown.forEach((t) => seen.add(`${t.id}:${t.status}`));
    fill(trialsTable, table(trials.length > MAX_ROWS ? `The ${MAX_ROWS} newest trials` : 'Every trial, newest first',
      ['Trial', 'Template', 'Status', 'Score', 'Knobs', 'Duration', 'Started'], shown.map((t) => [
        h('a', { href: `/web/trials/${seg(t.id)}${asOwner}` }, `#${t.no}`), t.model_name, statusBadge(t.status),
        fmtScore(t.score), h('span', { class: 'knobs' }, Object.entries(t.knobs).filter(([, v]) => v !== null)
          .map(([k, v]) => `${k}=${fmtValue(v)}`).join(' ')),
        fmtDuration(t.duration_seconds), fmtTime(t.started_at)]),
      { empty: 'No trials yet: they appear here as the workers start them.',
        rowClass: (i) => (!first && fresh.has(shown[i].id) ? 'new' : null) }));
  }

  // The job is read at every tick, and it keeps being read once it has ended: it may be resumed, and
  // the Pareto plot rings the trials that inference jobs deployed since serve. The trials are read
  // again only when the job's counts of trials by status have changed (a trial that changes status
  // changes them: the counts of ended trials only grow); the page draws again only when the job has.
  const fetched = whenChanged();
  const drawn = whenChanged();
  let first = true;
  async function tick() {
    if (!first) job = await api.get(base, owner);
    await fetched(job.sub_train_jobs.map((s) => s.trials),
      async () => { trials = await getAll(`${base}/trials`, owner); });
    const live = LIVE_JOB.includes(job.status);
    liveStatus.textContent = `Live: updated ${new Date().toLocaleTimeString()}`;
    await drawn(job, async () => {
      drawHeading();
      drawTemplates();
      drawBest();
      drawTemplateChoice();
      drawTrials(first);
      await drawKnobs();
    });
    await refreshImportance(live);
    await pareto.refresh(job);
    first = false;
    return live ? TICK_MS : QUIET_TICK_MS;   // an ended job may still be deployed, stopped or resumed
  }

  every(TICK_MS, tick, errors);
}
