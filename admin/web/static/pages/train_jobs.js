// Train jobs: the list (status, progress, best score; stop) and the form that creates one.
import { api, bodyEnum, queryString, seg } from '../api.js';
import { InputError, LIVE_TICK_MS, QUIET_TICK_MS, actionButton, field, fill, fmtScore, fmtTime, follow, h, onSubmit,
  select, statusBadge, table } from '../dom.js';
import { LIVE_JOB } from '../analysis.js';
import { asOwner, ownerPicker, ownerQuery, whose } from '../owner.js';

/** The page of a job; another user's job (an admin looking) carries its owner as ?user=. */
export const jobHref = (job, me) => `/web/train-jobs/${seg(job.app)}/${job.app_version}${asOwner(job, me)}`;

export async function trainJobsPage(main, _args, { user: me } = {}) {
  document.title = 'Train jobs · SingaAuto';
  const listSlot = h('div');
  const errors = h('div');
  const liveSlot = h('div');
  const owner = ownerQuery();
  fill(main, h('h1', {}, 'Train jobs'),
    h('p', {}, h('a', { class: 'button', href: '/web/train-jobs/new' }, 'Create a train job')),
    await ownerPicker(me, '/web/train-jobs', 'Whose train jobs'), errors, liveSlot, listSlot);

  // Read also while no job is live: a job may be created, stopped or resumed elsewhere.
  const draw = (jobs) => fill(listSlot, table(`${whose(me)} train jobs, newest first`, ['App', 'Version', 'Task',
    'Status', 'Trials completed', 'Best score', 'Templates', 'Created', ''], jobs.map((j) => [
    h('a', { href: jobHref(j, me) }, j.app), String(j.app_version), j.task, statusBadge(j.status),
    `${j.trials_completed} of ${j.trials_total}`, fmtScore(j.best_score),
    j.sub_train_jobs.map((s) => s.model_name).join(', '), fmtTime(j.created_at),
    LIVE_JOB.includes(j.status) ? stopButton(j, errors, () => refresh()) : null]),
  { empty: 'No train jobs yet.' }));
  const refresh = follow(LIVE_TICK_MS, () => api.get('/train_jobs', owner), draw,
    (jobs) => (jobs.some((j) => LIVE_JOB.includes(j.status)) ? LIVE_TICK_MS : QUIET_TICK_MS), liveSlot);
}

export function stopButton(job, slot, after) {
  return actionButton('Stop', slot, async () => {
    await api.post(`/train_jobs/${seg(job.app)}/${job.app_version}/stop${queryString({ user_id: job.owner_id })}`);
    if (after) await after();
  }, { confirmText: `Stop ${job.app} version ${job.app_version}? Running trials are stopped.`, className: 'danger' });
}

export async function newTrainJobPage(main) {
  document.title = 'Create a train job · SingaAuto';
  const [tasks, advisors, pruners, datasets, models] = await Promise.all([
    bodyEnum('/train_jobs', 'post', 'task'), bodyEnum('/train_jobs', 'post', 'advisor'),
    bodyEnum('/train_jobs', 'post', 'pruner'), api.get('/datasets'), api.get('/models/available')]);
  const slot = h('div');
  const taskSelect = select('task', tasks);
  const trainSelect = h('select', { name: 'train_dataset_id', required: true });
  const valSelect = h('select', { name: 'val_dataset_id', required: true });
  const templates = h('div', { class: 'checks' });
  const number = (name, attrs = {}) => h('input', { type: 'number', name, ...attrs });

  const form = h('form', { class: 'panel', 'aria-labelledby': 'new-job-title' },
    h('h1', { id: 'new-job-title' }, 'Create a train job'),
    h('div', { class: 'fields' },
      field('App', h('input', { type: 'text', name: 'app', required: true, maxlength: 64, pattern: '[A-Za-z0-9][A-Za-z0-9_.\\-]*' }),
        'Letters, digits, ".", "_" or "-"; each new job of an app gets the next version'),
      field('Task', taskSelect),
      field('Training dataset', trainSelect),
      field('Validation dataset', valSelect)),
    h('fieldset', {}, h('legend', {}, 'Templates to tune'), templates),
    h('fieldset', {}, h('legend', {}, 'Budget'), h('div', { class: 'fields' },
      field('Hours (TIME_HOURS)', number('TIME_HOURS', { min: 0.00084, max: 720, step: 'any', value: '0.1' })),
      field('Trials per template (MODEL_TRIAL_COUNT)', number('MODEL_TRIAL_COUNT', { min: 1, max: 10000, step: 1 }),
        'Empty: no limit but the time'),
      field('GPUs (GPU_COUNT)', number('GPU_COUNT', { min: 0, max: 64, step: 1, value: '0' })),
      field('Workers per template (WORKERS_PER_MODEL)', number('WORKERS_PER_MODEL', { min: 1, max: 32, step: 1 }),
        'On CPUs; empty: one'),
      field('Trials at once (MAX_CONCURRENT_TRIALS)', number('MAX_CONCURRENT_TRIALS', { min: 1, step: 1 }),
        'Across all templates; empty: every worker at once'))),
    h('fieldset', {}, h('legend', {}, 'Search'), h('div', { class: 'fields' },
      field('Advisor', select('advisor', advisors, { value: 'AUTO' })),
      field('Pruner', select('pruner', pruners, { value: 'NONE' })),
      field('Retries of a lost trial', number('max_trial_retries', { min: 0, max: 10, step: 1 })),
      field('Seed', number('seed', { min: 0, max: 4294967295, step: 1 })),
      field('Train arguments', h('textarea', { name: 'train_args', placeholder: '{}' }),
        'JSON object passed to train() as keyword arguments'))),
    slot,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Start training'),
      h('a', { href: '/web/train-jobs' }, 'Cancel')));

  function showChoices() {
    const task = taskSelect.value;
    const own = datasets.filter((d) => d.task === task);
    const options = own.map((d) => h('option', { value: d.id }, `${d.name} (${d.id.slice(0, 8)})`));
    fill(trainSelect, options);
    fill(valSelect, own.map((d) => h('option', { value: d.id }, `${d.name} (${d.id.slice(0, 8)})`)));
    if (own.length > 1) valSelect.selectedIndex = 1;
    const usable = models.filter((m) => m.task === task);
    fill(templates, usable.length ? usable.map((m) => h('label', {},
      h('input', { type: 'checkbox', name: 'model_ids', value: m.id, checked: true }), ` ${m.name} `,
      h('span', { class: 'hint' }, `(${m.model_class}, ${m.access_right.toLowerCase()})`)))
      : h('p', { class: 'empty' }, 'No template for this task yet: upload one first.'));
  }
  taskSelect.addEventListener('change', showChoices);
  showChoices();

  onSubmit(form, slot, async (data) => {
    const body = { app: data.get('app'), task: data.get('task'), train_dataset_id: data.get('train_dataset_id'),
      val_dataset_id: data.get('val_dataset_id'), model_ids: data.getAll('model_ids'),
      advisor: data.get('advisor'), pruner: data.get('pruner'), budget: {} };
    if (!body.model_ids.length) throw new InputError('choose at least one template');
    for (const key of ['TIME_HOURS', 'MODEL_TRIAL_COUNT', 'GPU_COUNT', 'WORKERS_PER_MODEL', 'MAX_CONCURRENT_TRIALS']) {
      if (data.get(key) !== '') body.budget[key] = Number(data.get(key));
    }
    for (const key of ['max_trial_retries', 'seed']) if (data.get(key) !== '') body[key] = Number(data.get(key));
    if (data.get('train_args').trim()) {
      try { body.train_args = JSON.parse(data.get('train_args')); } catch (e) {
        throw new InputError(`the train arguments are not valid JSON: ${e.message}`);
      }
    }
    const job = await api.post('/train_jobs', body);
    location.assign(jobHref(job));
  });
  fill(main, form);
}
