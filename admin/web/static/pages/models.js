// Model templates: list (yours and public ones), upload, one template's knob space, download, delete.
import { api, bodyEnum, download, schemaEnum, seg, upload } from '../api.js';
import { actionButton, facts, field, fill, fmtNumber, fmtTime, fmtValue, h, notice, onSubmit, select, table } from '../dom.js';

const TEMPLATE_MAKERS = ['SUPERADMIN', 'ADMIN', 'MODEL_DEVELOPER'];

export async function modelsPage(main, _args, { user }) {
  document.title = 'Model templates · SingaAuto';
  const listSlot = h('div');
  const parts = [h('h1', {}, 'Model templates')];
  if (TEMPLATE_MAKERS.includes(user.user_type)) parts.push(await uploadForm(refresh));
  else parts.push(h('p', { class: 'hint' }, 'Only model developers and admins upload templates; you may train with these.'));
  parts.push(h('h2', {}, 'Templates you may train with'), listSlot);
  fill(main, parts);

  async function refresh() {
    const models = await api.get('/models/available');
    fill(listSlot, table('Your templates and public ones', ['Name', 'Task', 'Class', 'Access', 'Owner', 'Knobs',
      'Uploaded'], models.map((m) => [
      h('a', { href: `/web/models/${seg(m.id)}` }, m.name), m.task, h('code', {}, m.model_class), m.access_right,
      m.owner_id === user.id ? 'you' : 'another user', String((m.knob_config.knobs || []).length),
      fmtTime(m.created_at)]), { empty: 'No templates yet.' }));
  }
  await refresh();
}

async function uploadForm(onUploaded) {
  const [tasks, rights] = await Promise.all([schemaEnum('Model', 'task'), bodyEnum('/models', 'post', 'access_right')]);
  const slot = h('div');
  const form = h('form', { class: 'panel', 'aria-labelledby': 'upload-model-title' },
    h('h2', { id: 'upload-model-title' }, 'Upload a template'),
    h('div', { class: 'fields' },
      field('Name', h('input', { type: 'text', name: 'name', required: true, maxlength: 255 })),
      field('Task', select('task', tasks)),
      field('Class', h('input', { type: 'text', name: 'model_class', required: true, maxlength: 255 }),
        'The BaseModel subclass in the file'),
      field('File', h('input', { type: 'file', name: 'model_file_bytes', required: true, accept: '.py,.zip' }),
        'A .py file, or a .zip with the module named below'),
      field('Module in the zip', h('input', { type: 'text', name: 'model_file_name', maxlength: 255 }),
        'Only for a .zip'),
      field('Access', select('access_right', rights, { value: 'PRIVATE' })),
      field('Dependencies', h('input', { type: 'text', name: 'dependencies', placeholder: '["scikit-learn>=1.3"]' }),
        'JSON: a list of requirements or a {name: version} object'),
      field('Description', h('input', { type: 'text', name: 'model_description' }))),
    slot,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Upload')));
  onSubmit(form, slot, async (data) => {
    for (const key of ['model_file_name', 'dependencies', 'model_description']) {
      if (!data.get(key)) data.delete(key);
    }
    fill(slot, h('p', { class: 'hint', role: 'status' }, 'Checking the template in a sandbox…'));
    const created = await upload('/models', data);
    form.reset();
    const knobs = (created.knob_config.knobs || []).length;
    fill(slot, notice(`Template "${created.name}" uploaded, with ${knobs} knob${knobs === 1 ? '' : 's'}.`));
    await onUploaded();
  });
  return form;
}

export async function modelPage(main, [modelId], { user }) {
  const m = await api.get(`/models/${seg(modelId)}`);
  document.title = `${m.name} · Model templates · SingaAuto`;
  const slot = h('div');
  const mayChange = TEMPLATE_MAKERS.includes(user.user_type) && (m.owner_id === user.id || user.user_type !== 'MODEL_DEVELOPER');
  const knobs = m.knob_config.knobs || [];
  fill(main,
    h('p', {}, h('a', { href: '/web/models' }, '← Model templates')),
    h('h1', {}, `Template ${m.name}`),
    facts([['Task', m.task], ['Class', h('code', {}, m.model_class)], ['Access', m.access_right],
      ['Owner', m.owner_id === user.id ? 'you' : m.owner_id], ['Dependencies', m.dependencies.join(', ')],
      ['Docker image', m.docker_image], ['Description', m.model_description], ['Uploaded', fmtTime(m.created_at)]]),
    h('h2', {}, 'Knob space'),
    table(`The ${knobs.length} knobs of ${m.name}`, ['Knob', 'Type', 'Values', 'Log scale', 'Active when'],
      knobs.map((k) => [h('code', {}, k.name), k.type.replace(/Knob$/, ''), knobValues(k),
        k.is_exp ? 'yes' : (k.type === 'IntegerKnob' || k.type === 'FloatKnob' ? 'no' : '—'),
        k.condition ? Object.entries(k.condition).map(([p, vs]) => `${p} ∈ ${JSON.stringify(vs)}`).join('; ') : 'always']),
      { empty: 'This template has no knobs.' }),
    slot,
    h('div', { class: 'actions' },
      TEMPLATE_MAKERS.includes(user.user_type)
        ? actionButton('Download the file', slot, () => download(`/models/${seg(m.id)}/model_file`, m.name))
        : null,
      mayChange ? actionButton('Delete', slot, async () => {
        await api.del(`/models/${seg(m.id)}`);
        location.assign('/web/models');
      }, { confirmText: `Delete the template "${m.name}"?`, className: 'danger' }) : null));
}

function knobValues(k) {
  switch (k.type) {
    case 'FixedKnob': return fmtValue(k.value);
    case 'CategoricalKnob': return k.values.map(fmtValue).join(', ');
    case 'IntegerKnob': case 'FloatKnob': return `${fmtNumber(k.value_min)} to ${fmtNumber(k.value_max)}`;
    case 'PolicyKnob': return `policy ${k.policy} (the advisor decides)`;
    case 'ArchKnob': return k.items.map((choices, i) => `[${i}]: ${choices.map(fmtValue).join(' | ')}`).join('; ');
    default: return JSON.stringify(k);
  }
}
