// Your account: change your password, log out everywhere. The admin's password rules and its
// throttling of wrong old passwords speak through its refusals.
import { api, logout } from '../api.js';
import { InputError, actionButton, facts, field, fill, fmtTime, h, notice, onSubmit } from '../dom.js';

export async function accountPage(main, _args, { user }) {
  document.title = 'Your account · SingaAuto';
  const slot = h('div');
  const password = (name, label, autocomplete, hint) => field(label, h('input', {
    type: 'password', name, required: true, minlength: name === 'old_password' ? null : 8, maxlength: 1024,
    autocomplete }), hint);
  const form = h('form', { class: 'panel', 'aria-labelledby': 'password-title' },
    h('h2', { id: 'password-title' }, 'Change your password'),
    h('div', { class: 'fields' },
      password('old_password', 'Current password', 'current-password'),
      password('new_password', 'New password', 'new-password',
        'At least 8 characters; not a common or easily guessed one (a few uncommon words will do)'),
      password('repeat', 'New password again', 'new-password')),
    slot, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Change password')));
  onSubmit(form, slot, async (data) => {
    if (data.get('new_password') !== data.get('repeat')) {
      throw new InputError('the two new passwords differ; type the same one twice');
    }
    await api.post('/users/me/password', { old_password: data.get('old_password'),
      new_password: data.get('new_password') });
    form.reset();
    fill(slot, notice('Your password is changed. Your sessions go on; log out everywhere to end the others.'));
  });

  const sessions = h('div');
  const everywhere = h('section', { class: 'panel', 'aria-labelledby': 'sessions-title' },
    h('h2', { id: 'sessions-title' }, 'Sessions'),
    h('p', {}, 'Logging out everywhere revokes every token you were given, on every browser and in every '
      + 'client, this one too.'),
    sessions, h('div', { class: 'actions' }, actionButton('Log out everywhere', sessions, async () => {
      logout({ everywhere: true });
      location.assign('/web/login');
    }, { confirmText: 'Log out everywhere? Every session of yours ends, this one too.', className: 'danger' })));

  fill(main, h('h1', {}, 'Your account'),
    facts([['Email', user.email], ['Role', user.user_type], ['Since', fmtTime(user.created_at)]]),
    form, everywhere);
}
