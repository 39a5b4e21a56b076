// Inference jobs: the list (status, predictor address; stop) and the form that deploys a train job.
import { api, bodyEnum, queryString, seg } from '../api.js';
import { LIVE_TICK_MS, QUIET_TICK_MS, actionButton, field, fill, fmtTime, follow, h, onSubmit, select, statusBadge,
  table } from '../dom.js';
import { asOwner, ownerPicker, ownerQuery, whose } from '../owner.js';

export const LIVE_INFERENCE = ['STARTED', 'RUNNING'];
export const inferenceHref = (job, me) => `/web/inference-jobs/${seg(job.app)}/${job.app_version}${asOwner(job, me)}`;
const ENSEMBLES = ['AUTO', 'MEAN', 'VOTE', 'WEIGHTED_MEAN'];   // when the API document lists none

export async function inferenceJobsPage(main, _args, { user: me } = {}) {
  document.title = 'Inference jobs · SingaAuto';
  const listSlot = h('div');
  const errors = h('div');
  const liveSlot = h('div');
  fill(main, h('h1', {}, 'Inference jobs'),
    h('p', {}, h('a', { class: 'button', href: '/web/inference-jobs/new' }, 'Deploy a train job')),
    await ownerPicker(me, '/web/inference-jobs', 'Whose inference jobs'), errors, liveSlot, listSlot);
  // Read also while no job is starting: a job may be deployed or stopped elsewhere, or a model fail.
  const draw = (jobs) => fill(listSlot, table(`${whose(me)} inference jobs`, ['App', 'Version', 'Status', 'Predictor',
    'Models', 'Created', ''], jobs.map((j) => [h('a', { href: inferenceHref(j, me) }, j.app), String(j.app_version),
    statusBadge(j.status), j.predictor_url ? h('code', {}, j.predictor_url) : '—', String(j.workers.length),
    fmtTime(j.created_at), LIVE_INFERENCE.includes(j.status) ? stopInferenceButton(j, errors, () => refresh()) : null]),
  { empty: 'No inference jobs yet: deploy a finished train job.' }));
  const refresh = follow(LIVE_TICK_MS, () => api.get('/inference_jobs', ownerQuery()), draw,
    (jobs) => (jobs.some((j) => j.status === 'STARTED') ? LIVE_TICK_MS : QUIET_TICK_MS), liveSlot);
}

export function stopInferenceButton(job, slot, after) {
  return actionButton('Stop', slot, async () => {
    await api.post(`/inference_jobs/${seg(job.app)}/${job.app_version}/stop${queryString({ user_id: job.owner_id })}`);
    if (after) await after();
  }, { confirmText: `Stop serving ${job.app} version ${job.app_version}?`, className: 'danger' });
}

export async function newInferenceJobPage(main) {
  document.title = 'Deploy a train job · SingaAuto';
  const params = new URLSearchParams(location.search);
  const [jobs, ensembles] = await Promise.all([api.get('/train_jobs'),
    bodyEnum('/inference_jobs', 'post', 'ensemble').then((v) => (v.length ? v : ENSEMBLES))]);
  const finished = jobs.filter((j) => j.status === 'STOPPED' && j.trials_completed > 0);
  const choices = finished.map((j) => [JSON.stringify([j.app, j.app_version]),
    `${j.app} version ${j.app_version} (${j.task}, best ${j.best_score === null ? '—' : j.best_score.toFixed(4)})`]);
  const wanted = params.get('app') ? JSON.stringify([params.get('app'), Number(params.get('version'))]) : undefined;
  const slot = h('div');
  const number = (name, attrs) => h('input', { type: 'number', name, step: 1, ...attrs });
  const form = h('form', { class: 'panel', 'aria-labelledby': 'deploy-title' },
    h('h1', { id: 'deploy-title' }, 'Deploy a train job'),
    choices.length ? null : h('p', { class: 'empty' }, 'No finished train job with a completed trial yet.'),
    h('div', { class: 'fields' },
      field('Train job', select('job', choices, { value: wanted })),
      field('Best trials of each template', number('models_per_template', { min: 1, value: '1' })),
      field('At most this many models', number('max_models', { min: 1 }), 'Empty: no cap'),
      field('Replicas of each model', number('replicas', { min: 1, value: '1' })),
      field('Ensemble', select('ensemble', ensembles, { value: 'AUTO' })),
      field('GPUs', number('GPU_COUNT', { min: 0, value: '0' })),
      field('Description', h('input', { type: 'text', name: 'description' }))),
    h('div', { class: 'checks' }, h('label', {}, h('input', { type: 'checkbox', name: 'is_public' }),
      ' Public: anyone may query the predictor without a prediction key')),
    slot,
    h('div', { class: 'actions' }, h('button', { type: 'submit', disabled: !choices.length }, 'Deploy'),
      h('a', { href: '/web/inference-jobs' }, 'Cancel')));
  onSubmit(form, slot, async (data) => {
    const [app, version] = JSON.parse(data.get('job'));
    const body = { app, app_version: Number(version), models_per_template: Number(data.get('models_per_template')),
      replicas: Number(data.get('replicas')), ensemble: data.get('ensemble'),
      budget: { GPU_COUNT: Number(data.get('GPU_COUNT') || 0) }, is_public: data.get('is_public') === 'on',
      description: data.get('description') };
    if (data.get('max_models')) body.max_models = Number(data.get('max_models'));
    const job = await api.post('/inference_jobs', body);
    location.assign(inferenceHref(job));
  });
  fill(main, form);
}
