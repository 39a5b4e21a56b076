// Datasets: upload (with a progress bar), list, statistics, delete.
import { api, schemaEnum, seg, upload } from '../api.js';
import { actionButton, facts, field, fill, fmtBytes, fmtTime, fmtValue, h, notice, onSubmit, select, table }
  from '../dom.js';
import { barsOption, makeChart } from '../charts.js';

export async function datasetsPage(main) {
  document.title = 'Datasets · SingaAuto';
  const tasks = await schemaEnum('Dataset', 'task');
  const listSlot = h('div');
  const errors = h('div');

  const progress = h('progress', { max: 100, value: 0, 'aria-label': 'Upload progress' });
  const progressText = h('span', { class: 'hint', 'aria-live': 'polite' });
  const progressBox = h('div', { hidden: true }, progress, progressText);
  const formSlot = h('div');
  const form = h('form', { class: 'panel', 'aria-labelledby': 'upload-title' },
    h('h2', { id: 'upload-title' }, 'Upload a dataset'),
    h('div', { class: 'fields' },
      field('Name', h('input', { type: 'text', name: 'name', required: true, maxlength: 255 })),
      field('Task', select('task', tasks)),
      field('File', h('input', { type: 'file', name: 'dataset', required: true, accept: '.csv,.zip' }),
        'Tabular tasks: a CSV with a header row; the target is the last column unless a train job names another. ' +
        'Image classification: a zip with images.csv or a folder per class. POS tagging: a zip with corpus.tsv. ' +
        'Image detection: a zip with <split>/ images and annotations/instances_<split>.json (COCO).')),
    progressBox, formSlot,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Upload')));

  onSubmit(form, formSlot, async (data) => {
    progressBox.hidden = false;
    progress.value = 0;
    let created;
    try {
      created = await upload('/datasets', data, (sent, total) => {
        const pct = Math.round((sent / total) * 100);
        progress.value = pct;
        progressText.textContent = pct < 100 ? ` ${pct} % sent` : ' Sent; the admin is checking the file…';
      });
    } catch (err) {
      progressBox.hidden = true;
      throw err;
    }
    progressText.textContent = ' Uploaded and checked.';
    form.reset();
    fill(formSlot, notice(`Dataset "${created.name}" uploaded: ${describeStat(created)}.`));
    await refresh();
  });

  async function refresh() {
    const datasets = await api.get('/datasets');
    fill(listSlot, table('Your datasets', ['Name', 'Task', 'Size', 'Contents', 'Uploaded', ''],
      datasets.map((d) => [h('a', { href: `/web/datasets/${seg(d.id)}` }, d.name), d.task, fmtBytes(d.size_bytes),
        describeStat(d), fmtTime(d.created_at),
        actionButton('Delete', errors, async () => { await api.del(`/datasets/${seg(d.id)}`); await refresh(); },
          { confirmText: `Delete the dataset "${d.name}"?`, className: 'danger' })]),
      { empty: 'No datasets yet: upload one above.' }));
  }

  fill(main, h('h1', {}, 'Datasets'), form, h('h2', {}, 'Your datasets'), errors, listSlot);
  await refresh();
}

function describeStat(d) {
  const s = d.stat || {};
  const parts = [];
  if (s.rows !== undefined) parts.push(`${s.rows} rows × ${s.columns} columns`);
  if (s.images !== undefined) parts.push(`${s.images} images`);
  if (s.class_count !== undefined) parts.push(`${s.class_count} classes`);
  if (s.sentences !== undefined) parts.push(`${s.sentences} sentences, ${s.tokens} tokens, ${s.tag_count} tags`);
  if (s.boxes !== undefined) parts.push(`${s.boxes} boxes in ${s.category_count} categories`);
  if (s.target_min !== undefined) parts.push(`target ${s.target_min} to ${s.target_max}`);
  if (s.target_error) parts.push('no default target (name one in train_args)');
  return parts.join(', ') || '—';
}

export async function datasetPage(main, [datasetId]) {
  const d = await api.get(`/datasets/${seg(datasetId)}`);
  document.title = `${d.name} · Datasets · SingaAuto`;
  const s = d.stat || {};
  const slot = h('div');
  const shown = ['classes', 'tags', 'categories', 'column_names', 'image_sizes', 'classes_truncated'];
  const pairs = [['Task', d.task], ['Size', fmtBytes(d.size_bytes)], ['Uploaded', fmtTime(d.created_at)],
    ...Object.entries(s).filter(([k]) => !shown.includes(k))
      .map(([k, v]) => [k[0].toUpperCase() + k.slice(1).replace(/_/g, ' '), fmtValue(v)])];
  if (s.column_names) pairs.push(['Column names', s.column_names.join(', ')]);
  if (s.image_sizes) pairs.push(['Image sizes (a sample)', s.image_sizes.map(([w, h2]) => `${w}×${h2}`).join(', ')]);
  const parts = [h('p', {}, h('a', { href: '/web/datasets' }, '← Datasets')), h('h1', {}, `Dataset ${d.name}`),
    facts(pairs)];
  // The counts a task's statistics hold: examples per class, tokens per tag, boxes per category.
  const [title, one, what, counts] = s.classes ? ['Classes', 'Class', 'Examples per class', s.classes]
    : s.tags ? ['Tags', 'Tag', 'Tokens per tag', s.tags] : ['Categories', 'Category', 'Boxes per category', s.categories];
  if (counts && Object.keys(counts).length) {
    const chart = makeChart(`${what} in ${d.name}`, 'small');
    parts.push(h('h2', {}, title), s.classes_truncated ? h('p', { class: 'hint' }, 'Only the first classes are counted.') : null,
      h('div', { class: 'charts' }, table(what, [one, what.split(' ')[0]], Object.entries(counts)
        .map(([k, v]) => [k, String(v)])), chart.el));
    chart.set(barsOption(what, counts));
  }
  parts.push(slot, h('div', { class: 'actions' }, actionButton('Delete', slot, async () => {
    await api.del(`/datasets/${seg(d.id)}`);
    location.assign('/web/datasets');
  }, { confirmText: `Delete the dataset "${d.name}"?`, className: 'danger' })));
  fill(main, parts);
}
