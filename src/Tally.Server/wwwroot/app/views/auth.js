import { api, session } from '../api.js';
import { busy, field, h, messageArea } from '../dom.js';

async function logIn(phone, password) {
  const result = await api('/api/auth/login', { method: 'POST', auth: false, body: { phone, password } });
  session.token = result.session;
}

export function loginView(main, app) {
  const notice = messageArea('info', 'login-notice');
  const error = messageArea('error', 'login-error');
  const phone = field('Phone', { type: 'tel', name: 'phone', autocomplete: 'tel', inputmode: 'numeric', required: true, id: 'login-phone' });
  const password = field('Password', { type: 'password', name: 'password', autocomplete: 'current-password', required: true, id: 'login-password' });
  const form = h('form', { class: 'card form', novalidate: true, 'aria-describedby': 'login-error' },
    phone, password,
    error,
    h('button', { type: 'submit', class: 'primary' }, 'Log in'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.show(null);
    try {
      await busy(form, () => logIn(phone.input.value.trim(), password.input.value));
      app.navigate('/dashboard');
    } catch (problem) {
      error.show(problem.detail ?? String(problem));
      password.input.value = '';
      phone.input.focus();
    }
  });
  notice.show(app.takeNotice());
  main.append(
    h('h1', null, 'Log in'),
    notice,
    form,
    h('p', { class: 'aside' }, 'New to Tally? ', h('a', { href: '#/register' }, 'Open an account')));
}

export function registerView(main, app) {
  const error = messageArea('error', 'register-error');
  const phone = field('Phone', { type: 'tel', name: 'phone', autocomplete: 'tel', inputmode: 'numeric', required: true, id: 'register-phone' },
    '8 to 15 digits; you log in with it.');
  const username = field('Name', { type: 'text', name: 'username', autocomplete: 'name', required: true, id: 'register-username' },
    'Shown to people who send you money.');
  const password = field('Password', { type: 'password', name: 'password', autocomplete: 'new-password', required: true, id: 'register-password' },
    'At least 8 characters.');
  const form = h('form', { class: 'card form', novalidate: true },
    phone, username, password,
    error,
    h('button', { type: 'submit', class: 'primary' }, 'Open my account'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.show(null);
    try {
      await busy(form, async () => {
        const phoneNumber = phone.input.value.trim();
        await api('/api/auth/register', {
          method: 'POST',
          auth: false,
          body: { phone: phoneNumber, username: username.input.value, password: password.input.value },
        });
        await logIn(phoneNumber, password.input.value);
      });
      app.navigate('/dashboard');
    } catch (problem) {
      error.show(problem.detail ?? String(problem));
      phone.input.focus();
    }
  });
  main.append(
    h('h1', null, 'Open an account'),
    h('p', { class: 'lead' }, 'Every new account starts with 100,000.'),
    form,
    h('p', { class: 'aside' }, 'Already have an account? ', h('a', { href: '#/login' }, 'Log in')));
}
