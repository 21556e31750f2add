import { session, UNAUTHENTICATED_EVENT, api } from './api.js';
import { h } from './dom.js';
import { loginView, registerView } from './views/auth.js';
import { dashboardView } from './views/dashboard.js';
import { adminView } from './views/admin.js';

// Hash routing (/#/login): the server serves one page, and any path it does not know stays a 404 problem.
const routes = {
  '/login': { view: loginView, signedIn: false },
  '/register': { view: registerView, signedIn: false },
  '/dashboard': { view: dashboardView, signedIn: true },
  '/admin': { view: adminView },
};

const app = {
  notice: null,
  current: null,
  renderedPath: null,
  navigate(path) {
    window.location.hash = `#${path}`;
  },
  takeNotice() {
    const text = this.notice;
    this.notice = null;
    return text;
  },
};

function renderNav(path) {
  const nav = document.getElementById('nav');
  const link = (target, text) => h('a', { href: `#${target}`, 'aria-current': path === target ? 'page' : null }, text);
  const items = session.token
    ? [link('/dashboard', 'Dashboard'), link('/admin', 'Admin'), h('button', { type: 'button', class: 'link', onclick: logOut }, 'Log out')]
    : [link('/login', 'Log in'), link('/register', 'Register'), link('/admin', 'Admin')];
  nav.replaceChildren(...items);
}

async function logOut() {
  try {
    await api('/api/auth/logout', { method: 'POST' });
  } catch {
    // Whether or not the server still knew the session, this browser forgets it.
  }
  session.token = null;
  app.notice = 'You are logged out.';
  app.navigate('/login');
}

function route() {
  const hash = window.location.hash;
  const path = hash.startsWith('#/') ? hash.slice(1) : '';
  const entry = routes[path];
  if (!entry) {
    window.location.replace(session.token ? '#/dashboard' : '#/login');
    return;
  }
  if (entry.signedIn === true && !session.token) {
    window.location.replace('#/login');
    return;
  }
  if (entry.signedIn === false && session.token) {
    window.location.replace('#/dashboard');
    return;
  }
  if (path === app.renderedPath) {
    // Already on screen (the hashchange of a navigation that was rendered at once): keep it as it is.
    return;
  }
  app.renderedPath = path;
  app.current?.dispose?.();
  app.current = null;
  const main = document.getElementById('main');
  main.replaceChildren();
  renderNav(path);
  app.current = entry.view(main, app) ?? null;
  // Move focus to the new page's heading, so keyboard and screen-reader users start at the top of it.
  const heading = main.querySelector('h1');
  if (heading) {
    heading.tabIndex = -1;
    heading.focus();
    document.title = `${heading.textContent} · Tally`;
  }
}

// Several calls of one page may fail with 401 at once: the first one leads to the login page and its notice.
window.addEventListener(UNAUTHENTICATED_EVENT, (event) => {
  if (app.renderedPath === '/login') {
    return;
  }
  app.notice = `${event.detail} Please log in again.`;
  if (window.location.hash === '#/login') {
    route();
  } else {
    app.navigate('/login');
  }
});
window.addEventListener('hashchange', route);
route();
