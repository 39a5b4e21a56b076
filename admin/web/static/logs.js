// The logs of a job's services (advisors and train workers, or the predictor and inference
// workers), kept on the shared storage and readable after the services are gone: a list of the
// files, and the end of the one chosen, with its earlier parts on request.
import { api, seg } from './api.js';
import { actionButton, fill, fmtBytes, fmtTime, h, table } from './dom.js';

const SERVICE_NAMES = { ADVISOR: 'advisor', TRAIN: 'train worker', PREDICT: 'predictor', INFERENCE: 'inference worker' };

/** A section listing the logs at `${base}/logs` (a job's path), with a viewer. */
export function logsSection(base, owner) {
  const slot = h('div');
  const list = h('div');
  const viewer = h('div');
  const section = h('section', { 'aria-labelledby': 'logs-title' },
    h('h2', { id: 'logs-title' }, 'Service logs'),
    h('p', { class: 'hint' }, 'What each service logged, one file per replica, kept after the services are gone.'),
    h('div', { class: 'actions' }, actionButton('Refresh the list', slot, refresh)), slot, list, viewer);

  async function show(file) {
    let text = '';
    let start = null;
    const title = `${SERVICE_NAMES[file.service_type] || file.service_type} ${file.model_name} · replica ${file.replica}`;
    const pre = h('pre', { class: 'log', tabindex: '0', 'aria-label': `The log of the ${title}` });
    const earlier = h('div', { class: 'actions' });
    async function read(offset) {
      const query = { ...owner };
      if (offset !== null) Object.assign(query, { offset: Math.max(0, offset - 65536), limit: Math.min(offset, 65536) });
      const chunk = await api.get(`${base}/logs/${seg(file.name)}`, query);
      text = chunk.text + text;
      start = chunk.offset;
      pre.textContent = text || '(empty)';
      fill(earlier, start > 0 ? actionButton('Show earlier lines', slot, () => read(start)) : null);
    }
    fill(viewer, h('h3', {}, `${file.name} (${title})`), earlier, pre);
    await read(null);
  }

  async function refresh() {
    const files = await api.get(`${base}/logs`, owner);
    fill(list, table('One file per replica of each service', ['Service', 'Template', 'Replica', 'Size', 'Last written', ''],
      files.map((f) => [SERVICE_NAMES[f.service_type] || f.service_type, f.model_name || '—', String(f.replica),
        fmtBytes(f.size), fmtTime(f.modified_at), actionButton('Show', slot, () => show(f))]),
      { empty: 'No logs yet: they appear as the services start.' }));
  }
  refresh().catch((err) => fill(list, h('p', { class: 'empty' }, `The logs cannot be listed: ${err.message}`)));
  return section;
}
