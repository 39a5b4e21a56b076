// Whose jobs a page shows. An admin may look at another user's jobs: the pages then carry the owner
// as ?user=<id> and pass it to the API as user_id; everyone else only ever sees their own.
import { api, queryString } from './api.js';
import { h } from './dom.js';

const ADMIN_TYPES = ['SUPERADMIN', 'ADMIN'];

/** The owner named by the page's ?user=, as the API's query: {user_id} or {}. */
export function ownerQuery() {
  const user = new URLSearchParams(location.search).get('user');
  return user ? { user_id: user } : {};
}

/** '?user=<owner>' for a link to another user's job, '' for one's own. */
export const asOwner = (job, me) => (me && job.owner_id !== me.id ? queryString({ user: job.owner_id }) : '');

/** For admins, a select of every user that reloads `path` with that user's jobs; null for others. */
export async function ownerPicker(me, path, label) {
  if (!me || !ADMIN_TYPES.includes(me.user_type)) return null;
  const users = await api.get('/users');
  const chosen = ownerQuery().user_id || me.id;
  return h('div', { class: 'toolbar' }, h('div', { class: 'field' },
    h('label', { for: 'job-owner' }, label),
    h('select', { id: 'job-owner', onchange: (e) => {
      location.assign(path + (e.target.value === me.id ? '' : queryString({ user: e.target.value })));
    } }, users.map((u) => h('option', { value: u.id, selected: u.id === chosen },
      u.id === me.id ? `${u.email} (you)` : u.email)))));
}

/** "Your" or "This user's", for captions. */
export const whose = (me) => {
  const { user_id: owner } = ownerQuery();
  return owner && (!me || owner !== me.id) ? 'This user\'s' : 'Your';
};
