// Users (admins only): create, list, ban and unban, reset a password. The API decides who may do
// what; its refusals show here.
import { api, schemaEnum } from '../api.js';
import { actionButton, field, fill, fmtTime, h, notice, onSubmit, select, table } from '../dom.js';

export async function usersPage(main, _args, { user }) {
  document.title = 'Users · SingaAuto';
  const listSlot = h('div');
  const errors = h('div');
  // GET /users first: for someone who is not an admin, its 403 is the page's answer.
  const first = await api.get('/users');
  const types = (await schemaEnum('User', 'user_type')).filter((t) => t !== 'SUPERADMIN');
  const slot = h('div');
  const form = h('form', { class: 'panel', 'aria-labelledby': 'new-user-title' },
    h('h2', { id: 'new-user-title' }, 'Create a user'),
    h('div', { class: 'fields' },
      field('Email', h('input', { type: 'email', name: 'email', required: true, maxlength: 254, autocomplete: 'off' })),
      field('Password', h('input', { type: 'password', name: 'password', required: true, minlength: 8,
        autocomplete: 'new-password' }), 'At least 8 characters; not a common or easily guessed one'),
      field('Role', select('user_type', types, { value: 'APP_DEVELOPER' }),
        user.user_type === 'SUPERADMIN' ? null : 'Only the superadmin creates admins')),
    slot, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create')));
  onSubmit(form, slot, async (data) => {
    const created = await api.post('/users', { email: data.get('email'), password: data.get('password'),
      user_type: data.get('user_type') });
    form.reset();
    fill(slot, notice(`User ${created.email} (${created.user_type}) created.`));
    await redraw();
  });

  // A user's password is reset from their row: a form for that user opens below the list.
  const resetSlot = h('div');
  function openReset(target) {
    const slot = h('div');
    const input = h('input', { type: 'password', name: 'password', required: true, minlength: 8,
      autocomplete: 'new-password' });
    const reset = h('form', { class: 'panel', 'aria-labelledby': 'reset-title' },
      h('h2', { id: 'reset-title' }, `Reset the password of ${target.email}`),
      h('p', {}, 'Their tokens stop working at once and their failed logins are forgotten; tell them the new password.'),
      h('div', { class: 'fields' }, field(`New password for ${target.email}`, input)),
      slot, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Set password'),
        h('button', { type: 'button', class: 'secondary', onclick: () => fill(resetSlot) }, 'Cancel')));
    onSubmit(reset, slot, async (data) => {
      await api.post('/users/password', { email: target.email, password: data.get('password') });
      fill(resetSlot, notice(`The password of ${target.email} is reset.`));
    });
    fill(resetSlot, reset);
    input.focus();
  }

  const redraw = async () => draw(await api.get('/users'));
  function draw(users) {
    fill(listSlot, table('Every user', ['Email', 'Role', 'Created', 'Banned', ''], users.map((u) => [
      u.email, u.user_type, fmtTime(u.created_at), u.banned_at ? fmtTime(u.banned_at) : 'no',
      u.id === user.id || u.user_type === 'SUPERADMIN' ? null : [
        u.banned_at
          ? actionButton('Unban', errors, async () => { await api.post('/users/unban', { email: u.email }); await redraw(); })
          : actionButton('Ban', errors, async () => { await api.del('/users', { email: u.email }); await redraw(); },
            { confirmText: `Ban ${u.email}? Their tokens stop working at once and their inference jobs stop `
                + 'answering (public ones are stopped). You can unban them later.',
              className: 'danger' }),
        ' ', h('button', { type: 'button', class: 'secondary', onclick: () => openReset(u) }, 'Reset password')]])));
  }
  fill(main, h('h1', {}, 'Users'), form, h('h2', {}, 'Users'), errors, listSlot, resetSlot);
  draw(first);
}
