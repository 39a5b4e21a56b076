// One inference job: its predictor's address, its models, prediction keys, and a playground that
// queries it through the admin (POST .../predict) and shows the ensemble's answer and each model's.
import { api, seg } from '../api.js';
import { InputError, LIVE_TICK_MS, actionButton, facts, field, fill, fmtScore, fmtTime, follow, h, notice, onSubmit,
  statusBadge, table } from '../dom.js';
import { logsSection } from '../logs.js';
import { asOwner, ownerQuery } from '../owner.js';
import { LIVE_INFERENCE, stopInferenceButton } from './inference_jobs.js';

export async function inferenceJobPage(main, [app, version], { user: me } = {}) {
  const base = `/inference_jobs/${seg(app)}/${version}`;
  const owner = ownerQuery();          // an admin looking at another user's job
  let job = await api.get(base, owner);
  const own = !me || job.owner_id === me.id;
  document.title = `${job.app} v${job.app_version} · Inference jobs · SingaAuto`;
  const errors = h('div');
  const heading = h('div');
  const summary = h('div');
  const workers = h('div');
  // Keys and the playground are the owner's alone.
  fill(main, h('p', {}, h('a', { href: `/web/inference-jobs${asOwner(job, me)}` }, '← Inference jobs')), heading,
    errors, summary, h('h2', {}, 'Models'), workers,
    own ? await keysSection(base) : h('p', { class: 'hint' }, 'Prediction keys and the playground are for the owner.'),
    own ? await playground(base, job) : null, logsSection(base, owner));

  function draw() {
    fill(heading, h('h1', {}, `Inference job ${job.app} · version ${job.app_version} `, statusBadge(job.status)),
      LIVE_INFERENCE.includes(job.status)
        ? h('div', { class: 'actions' }, stopInferenceButton(job, errors, () => refresh()))
        : null);
    fill(summary, facts([['Predictor', job.predictor_url ? h('code', {}, `${job.predictor_url}/predict`) : 'not known yet'],
      ['Access', job.is_public ? 'public (no key needed)' : 'with a prediction key'], ['Error', job.error],
      ['Ensemble', job.config && job.config.ensemble], ['Description', job.description],
      ['Created', fmtTime(job.created_at)], ['Started', fmtTime(job.started_at)], ['Stopped', fmtTime(job.stopped_at)]]));
    fill(workers, table('The deployed trials', ['Trial', 'Template', 'Score', 'Replicas', 'Status'],
      job.workers.map((w) => [w.trial_id   // a checkpoint job's worker serves its template's checkpoint, no trial
        ? h('a', { href: `/web/trials/${seg(w.trial_id)}${asOwner(job, me)}` }, w.trial_id.slice(0, 8)) : 'checkpoint',
        w.model_name, fmtScore(w.score), String(w.replicas), statusBadge(w.status)])));
  }
  // Read while the job is live, also once every model runs (a worker may fail, the job be stopped
  // elsewhere); drawn again only when it has changed.
  const refresh = follow(LIVE_TICK_MS, () => api.get(base, owner), (read) => { job = read; draw(); },
    (read) => LIVE_INFERENCE.includes(read.status), errors);
}

async function keysSection(base) {
  const list = h('div');
  const slot = h('div');
  const form = h('form', { class: 'toolbar', 'aria-label': 'Create a prediction key' },
    field('Name of a new key', h('input', { type: 'text', name: 'name', required: true, maxlength: 100 })),
    h('button', { type: 'submit' }, 'Create a key'));
  async function refresh() {
    const keys = await api.get(`${base}/keys`);
    fill(list, table(null, ['Name', 'Created', 'Revoked', ''], keys.map((k) => [k.name, fmtTime(k.created_at),
      k.revoked_at ? fmtTime(k.revoked_at) : 'no',
      k.revoked_at ? null : actionButton('Revoke', slot, async () => { await api.del(`${base}/keys/${seg(k.id)}`); await refresh(); },
        { confirmText: `Revoke the key "${k.name}"? Callers using it are refused at once.`, className: 'danger' })]),
    { empty: 'No prediction keys.' }));
  }
  onSubmit(form, slot, async (data) => {
    const key = await api.post(`${base}/keys`, { name: data.get('name') });
    form.reset();
    fill(slot, notice(`Key "${key.name}" created. Copy it now; it is not shown again:`),
      h('p', { class: 'secret', 'aria-label': 'The new prediction key' }, key.key),
      h('p', { class: 'hint' }, 'Send it as "Authorization: Bearer <key>" to the predictor.'));
    await refresh();
  });
  await refresh();
  return h('section', { 'aria-labelledby': 'keys-title' }, h('h2', { id: 'keys-title' }, 'Prediction keys'),
    form, slot, list);
}

async function playground(base, job) {
  const slot = h('div');
  const answer = h('div', { 'aria-live': 'polite' });
  const query = h('textarea', { name: 'query', rows: 6, required: true });
  query.value = await exampleQuery(job);
  const form = h('form', { class: 'panel', 'aria-labelledby': 'playground-title' },
    h('h2', { id: 'playground-title' }, 'Playground'),
    h('p', { class: 'hint' }, 'Sends the query to the predictor through the admin, as the SDK\'s predict() does.'),
    field('Query (JSON)', query, 'One query, e.g. a row as {"column": value}; tick below to send a list of queries'),
    h('div', { class: 'checks' }, h('label', {}, h('input', { type: 'checkbox', name: 'many' }),
      ' The JSON is a list of several queries')),
    slot, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Predict')), answer);
  onSubmit(form, slot, async (data) => {
    let value;
    try { value = JSON.parse(data.get('query')); } catch (e) { throw new InputError(`the query is not valid JSON: ${e.message}`); }
    const many = data.get('many') === 'on';
    if (many && !Array.isArray(value)) throw new InputError('a list of queries must be a JSON array');
    fill(answer, h('p', { class: 'hint' }, 'Asking the models…'));
    const started = performance.now();
    const result = await api.post(`${base}/predict`, many ? { queries: value, details: true } : { query: value, details: true })
      .catch((err) => { fill(answer); throw err; });
    fill(answer, showAnswer(result, many, performance.now() - started));
  });
  return form;
}

function showAnswer(result, many, ms) {
  const ensemble = many ? result.predictions : result.prediction;
  const answered = new Map((result.models || []).map((m) => [m.trial_id, m.answered]));
  const perModel = result.model_predictions || [];
  return h('div', {},
    h('h3', {}, `The ensemble's answer (${Math.round(ms)} ms)`),
    many ? null : h('p', {}, mostLikely(ensemble)),
    h('pre', { class: 'json', 'aria-label': 'The ensemble\'s answer' }, JSON.stringify(ensemble, null, 2)),
    result.errors ? h('p', { class: 'hint' }, `Some models could not answer: ${JSON.stringify(result.errors)}`) : null,
    table('Each model\'s answer', ['Template', 'Trial', 'Answered', 'Prediction', many ? null : 'Summary'].filter(Boolean),
      (result.models || []).map((m) => {
        const own = perModel.find((p) => p.trial_id === m.trial_id);
        const predictions = own ? (many ? own.predictions : own.predictions[0]) : null;
        const known = predictions !== null && predictions !== undefined;
        return [m.model_name, h('a', { href: `/web/trials/${seg(m.trial_id)}` }, m.trial_id.slice(0, 8)),
          answered.get(m.trial_id) ? 'yes' : 'no (timed out or failed)',
          known ? h('code', {}, JSON.stringify(predictions)) : '—',
          many ? null : (known ? mostLikely(predictions) : '—')].filter((c) => c !== null);
    }), { empty: 'The predictor named no models.' }));
}

/** For class probabilities, the most likely class and its probability; otherwise the value itself. */
function mostLikely(prediction) {
  const probabilities = Array.isArray(prediction) && prediction.length > 1 && prediction.every((p) => typeof p === 'number')
    && Math.abs(prediction.reduce((a, b) => a + b, 0) - 1) < 1e-3;
  if (!probabilities) return `Prediction: ${JSON.stringify(prediction)}`;
  const best = prediction.indexOf(Math.max(...prediction));
  return `Most likely class ${best} (${(prediction[best] * 100).toFixed(1)} %)`;
}

/** A query to start from: for a tabular job, a row of its training dataset's feature columns. */
async function exampleQuery(job) {
  try {
    const train = (await api.get('/train_jobs')).find((j) => j.id === job.train_job_id);
    if (!train || !train.train_dataset_id || !train.task.startsWith('TABULAR')) return '';
    const dataset = await api.get(`/datasets/${seg(train.train_dataset_id)}`);
    const columns = (dataset.stat.column_names || []).filter((c) => c !== dataset.stat.target);
    return JSON.stringify(Object.fromEntries(columns.map((c) => [c, 0])), null, 1);
  } catch (e) {
    return '';
  }
}
