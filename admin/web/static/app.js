// The web admin's entry: picks the page for the path, checks the login, draws the navigation, and
// catches every error so that none leaves a blank page.
import { ApiError, api, clearSession, logout, session } from './api.js';
import { errorBox, fill, h, loginHref } from './dom.js';

const ADMIN_TYPES = ['SUPERADMIN', 'ADMIN'];

// [pattern, module, export]; the captured groups are the page's arguments.
const ROUTES = [
  [/^\/web\/?$/, null, 'home'],
  [/^\/web\/login$/, './pages/login.js', 'loginPage'],
  [/^\/web\/datasets$/, './pages/datasets.js', 'datasetsPage'],
  [/^\/web\/datasets\/([^/]+)$/, './pages/datasets.js', 'datasetPage'],
  [/^\/web\/models$/, './pages/models.js', 'modelsPage'],
  [/^\/web\/models\/([^/]+)$/, './pages/models.js', 'modelPage'],
  [/^\/web\/train-jobs$/, './pages/train_jobs.js', 'trainJobsPage'],
  [/^\/web\/train-jobs\/new$/, './pages/train_jobs.js', 'newTrainJobPage'],
  [/^\/web\/train-jobs\/([^/]+)\/(-?\d+)$/, './pages/train_job.js', 'trainJobPage'],
  [/^\/web\/trials\/([^/]+)$/, './pages/trial.js', 'trialPage'],
  [/^\/web\/inference-jobs$/, './pages/inference_jobs.js', 'inferenceJobsPage'],
  [/^\/web\/inference-jobs\/new$/, './pages/inference_jobs.js', 'newInferenceJobPage'],
  [/^\/web\/inference-jobs\/([^/]+)\/(-?\d+)$/, './pages/inference_job.js', 'inferenceJobPage'],
  [/^\/web\/users$/, './pages/users.js', 'usersPage'],
  [/^\/web\/account$/, './pages/account.js', 'accountPage'],
];

const NAV = [
  ['/web/datasets', 'Datasets'],
  ['/web/models', 'Model templates'],
  ['/web/train-jobs', 'Train jobs'],
  ['/web/inference-jobs', 'Inference jobs'],
  ['/web/users', 'Users', (user) => ADMIN_TYPES.includes(user.user_type)],
];

const main = document.getElementById('main');

function drawNav(user) {
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  if (!user) { fill(nav); fill(who); return; }
  fill(nav, h('ul', {}, NAV.filter(([, , show]) => !show || show(user)).map(([href, label]) => h('li', {},
    h('a', { href, 'aria-current': location.pathname.startsWith(href) ? 'page' : null }, label)))));
  fill(who, h('a', { href: '/web/account', title: 'Your account: password, sessions' },
    `${user.email} (${user.user_type})`), ' ',
    h('button', { type: 'button', class: 'link', onclick: () => { logout(); location.assign('/web/login'); } },
      'Log out'));
}

function showFatal(err) {
  console.error(err);
  const box = errorBox(err);
  if (main.querySelector('[data-fatal]')) return;
  box.dataset.fatal = '1';
  main.prepend(box);
}

window.addEventListener('error', (e) => showFatal(e.error || e.message));
window.addEventListener('unhandledrejection', (e) => showFatal(e.reason));

async function start() {
  const path = location.pathname;
  const route = ROUTES.map(([re, mod, name]) => [path.match(re), mod, name]).find(([m]) => m);
  if (!route) {
    drawNav(await currentUser());
    fill(main, h('h1', {}, 'No such page'), h('p', {}, `There is no page at ${path}. `,
      h('a', { href: '/web/' }, 'Go to the start page')));
    return;
  }
  const [match, modulePath, name] = route;
  if (name === 'loginPage') {
    const { loginPage } = await import(modulePath);
    drawNav(null);
    return loginPage(main);
  }
  const user = await currentUser();
  if (!user) { location.replace(loginHref()); return; }
  drawNav(user);
  if (name === 'home') { location.replace('/web/train-jobs'); return; }
  const module = await import(modulePath);
  fill(main, h('p', { class: 'loading' }, 'Loading…'));
  try {
    await module[name](main, match.slice(1).map(decodeURIComponent), { user });
  } catch (err) {
    fill(main, h('h1', {}, document.title = 'This page cannot be shown'), errorBox(err));
  }
  main.focus({ preventScroll: true });
}

/** The logged-in user (GET /users/me), or null when not logged in or the token no longer works. */
async function currentUser() {
  if (!session()) return null;
  try {
    return await api.get('/users/me');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) { clearSession(); return null; }
    throw err;
  }
}

start().catch((err) => { fill(main); showFatal(err); });
