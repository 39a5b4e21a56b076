// Logging in: POST /tokens, then keep the token for the other pages.
import { ApiError, api, saveSession } from '../api.js';
import { field, fill, h, onSubmit } from '../dom.js';

export function loginPage(main) {
  document.title = 'Log in · SingaAuto';
  const slot = h('div');
  const form = h('form', { class: 'panel', 'aria-labelledby': 'login-title' },
    field('Email', h('input', { type: 'email', name: 'email', required: true, autocomplete: 'username' })),
    field('Password', h('input', { type: 'password', name: 'password', required: true,
      autocomplete: 'current-password' })),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Log in')));
  fill(main, h('div', { class: 'login' }, h('h1', { id: 'login-title' }, 'Log in to SingaAuto'), slot, form));
  onSubmit(form, slot, async (data) => {
    const email = data.get('email');
    const token = await api.post('/tokens', { email, password: data.get('password') }).catch((err) => {
      if (err instanceof ApiError && err.status === 401) err.describe = () => ['Login refused', `${err.message}.`];
      throw err;
    });
    saveSession({ ...token, email });
    const next = new URLSearchParams(location.search).get('next');
    // Only a page of this web admin: never an address elsewhere.
    location.assign(next && next.startsWith('/web/') ? next : '/web/train-jobs');
  });
  form.querySelector('input').focus();
}
