// Users (admins only): create, list, ban. The API decides who may do what; its refusals show here.
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
        autocomplete: 'new-password' }), 'At least 8 characters'),
      field('Role', select('user_type', types, { value: 'APP_DEVELOPER' }),
        user.user_type === 'SUPERADMIN' ? null : 'Only the superadmin creates admins')),
    slot, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create')));
  onSubmit(form, slot, async (data) => {
    const created = await api.post('/users', { email: data.get('email'), password: data.get('password'),
      user_type: data.get('user_type') });
    form.reset();
    fill(slot, notice(`User ${created.email} (${created.user_type}) created.`));
    draw(await api.get('/users'));
  });

  function draw(users) {
    fill(listSlot, table('Every user', ['Email', 'Role', 'Created', 'Banned', ''], users.map((u) => [
      u.email, u.user_type, fmtTime(u.created_at), u.banned_at ? fmtTime(u.banned_at) : 'no',
      u.banned_at || u.id === user.id || u.user_type === 'SUPERADMIN' ? null
        : actionButton('Ban', errors, async () => { await api.del('/users', { email: u.email }); draw(await api.get('/users')); },
          { confirmText: `Ban ${u.email}? Their tokens stop working at once; a ban cannot be undone.`,
            className: 'danger' })])));
  }
  fill(main, h('h1', {}, 'Users'), form, h('h2', {}, 'Users'), errors, listSlot);
  draw(first);
}
