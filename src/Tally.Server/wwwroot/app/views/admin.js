import { adminSecret, api, query } from '../api.js';
import { busy, field, formatAmount, formatDate, h, messageArea } from '../dom.js';

const PAGE_SIZE = 10;

function figures(id, pairs) {
  return h('dl', { class: 'figures', id }, pairs.map(([term, value, valueId]) =>
    h('div', null, h('dt', null, term), h('dd', { id: valueId }, value))));
}

function table(id, caption, columns, rows) {
  return h('div', { class: 'table-scroll', tabindex: 0, role: 'region', 'aria-label': caption },
    h('table', { id },
      h('thead', null, h('tr', null, columns.map(([text, numeric]) => h('th', { scope: 'col', class: numeric ? 'num' : null }, text)))),
      h('tbody', null, rows.length
        ? rows
        : h('tr', null, h('td', { colspan: columns.length, class: 'empty' }, 'Nothing here.')))));
}

// A paged list: loads page n, renders it, and offers Previous / Next.
function pagedSection(id, title, load, extra) {
  let page = 1;
  const body = h('div', { id: `${id}-table` });
  const status = h('p', { class: 'pager-status', 'aria-live': 'polite' });
  const previous = h('button', { type: 'button' }, 'Previous');
  const next = h('button', { type: 'button' }, 'Next');
  const error = messageArea('error', `${id}-error`);
  async function show() {
    error.show(null);
    try {
      const result = await load(page);
      const pages = Math.max(1, result.pages);
      body.replaceChildren(result.table);
      status.textContent = `Page ${result.page} of ${pages} (${result.total} in all)`;
      previous.disabled = result.page <= 1;
      next.disabled = result.page >= pages;
    } catch (problem) {
      error.show(problem.detail ?? String(problem));
    }
  }
  previous.addEventListener('click', () => { page = Math.max(1, page - 1); show(); });
  next.addEventListener('click', () => { page += 1; show(); });
  const section = h('section', { class: 'card wide', 'aria-labelledby': `${id}-heading` },
    h('h2', { id: `${id}-heading` }, title), extra ?? null, error, body,
    h('nav', { class: 'pager', 'aria-label': `${title} pages` }, previous, status, next));
  section.reload = (first) => {
    if (first) {
      page = 1;
    }
    return show();
  };
  return section;
}

export function adminView(main) {
  const error = messageArea('error', 'admin-error');
  const secret = field('Admin secret', { type: 'password', id: 'admin-secret', name: 'admin-secret', autocomplete: 'off', required: true },
    'Kept only in this browser tab and sent as X-Admin-Secret.');
  const unlockForm = h('form', { class: 'card form', novalidate: true, id: 'admin-unlock' },
    secret, error, h('button', { type: 'submit', class: 'primary' }, 'Open the admin view'));
  const panels = h('div', { class: 'grid', id: 'admin-panels', hidden: true });
  const lockButton = h('button', { type: 'button', id: 'admin-lock', hidden: true }, 'Forget the secret');
  const refreshButton = h('button', { type: 'button', id: 'admin-refresh', hidden: true }, 'Refresh');

  const auditBox = h('div', { id: 'audit' });
  const statsBox = h('div', { id: 'stats' });
  const search = field('Search by name, phone or account number', { type: 'search', id: 'user-search', name: 'search', autocomplete: 'off' });
  let searchTerm = '';
  const searchForm = h('form', { class: 'inline-form', role: 'search', novalidate: true }, search, h('button', { type: 'submit' }, 'Search'));

  const users = pagedSection('users', 'Users', async (page) => {
    const result = await api(query('/api/account/admin/users', { page, size: PAGE_SIZE, search: searchTerm }), { auth: false, admin: true });
    return {
      ...result,
      table: table('users-list', 'Users', [['Id'], ['Name'], ['Phone'], ['Account'], ['Balance', true]], result.users.map((u) =>
        h('tr', null, h('td', null, u.id), h('td', null, u.username), h('td', { class: 'mono' }, u.phone),
          h('td', { class: 'mono' }, u.account_number), h('td', { class: 'num' }, formatAmount(u.balance))))),
    };
  }, searchForm);
  const transfers = pagedSection('transfers', 'Transfers', async (page) => {
    const result = await api(query('/api/account/admin/transfers', { page, size: PAGE_SIZE }), { auth: false, admin: true });
    return {
      ...result,
      table: table('transfers-list', 'Transfers', [['Id'], ['Date'], ['From'], ['To'], ['Amount', true], ['Status']], result.transfers.map((t) =>
        h('tr', null, h('td', null, t.id), h('td', null, formatDate(t.created_at)), h('td', null, t.from_username ?? t.from_user),
          h('td', null, t.to_username ?? t.to_user), h('td', { class: 'num' }, formatAmount(t.amount)), h('td', null, t.status)))),
    };
  });

  searchForm.addEventListener('submit', (event) => {
    event.preventDefault();
    searchTerm = search.input.value.trim();
    users.reload(true);
  });

  async function loadSummary() {
    const [audit, stats] = await Promise.all([
      api('/api/account/admin/audit', { auth: false, admin: true }),
      api('/api/account/admin/stats', { auth: false, admin: true }),
    ]);
    auditBox.replaceChildren(
      h('p', { id: 'audit-status', class: audit.ok ? 'audit ok' : 'audit failed' }, audit.ok ? 'ok' : 'FAILED'),
      figures('audit-figures', [
        ['Ledger sum', formatAmount(audit.ledger_sum)],
        ['Accounts', formatAmount(audit.accounts)],
        ['User balances', formatAmount(audit.total_user_balance)],
        ['Bank equity', formatAmount(audit.bank_equity_balance)],
        ['Pending holds', formatAmount(audit.pending_holds)],
        ['Negative balances', formatAmount(audit.negative_balances)],
      ]));
    statsBox.replaceChildren(figures('stats-figures', [
      ['Users', formatAmount(stats.total_users)],
      ['Total balance', formatAmount(stats.total_balance)],
      ['Transfers', formatAmount(stats.total_transfers)],
      ['Amount transferred', formatAmount(stats.total_transfer_amount)],
      ['Notifications', formatAmount(stats.total_notifications)],
    ]));
  }

  function setOpen(open) {
    panels.hidden = !open;
    lockButton.hidden = !open;
    refreshButton.hidden = !open;
    unlockForm.hidden = open;
  }

  async function open() {
    await loadSummary();
    setOpen(true);
    await Promise.all([users.reload(true), transfers.reload(true)]);
  }

  unlockForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.show(null);
    adminSecret.value = secret.input.value;
    try {
      await busy(unlockForm, open);
      panels.querySelector('h2')?.focus();
    } catch (problem) {
      adminSecret.value = null;
      error.show(problem.detail ?? String(problem));
      secret.input.focus();
    }
  });
  lockButton.addEventListener('click', () => {
    adminSecret.value = null;
    secret.input.value = '';
    setOpen(false);
    secret.input.focus();
  });
  refreshButton.addEventListener('click', async () => {
    error.show(null);
    try {
      await open();
    } catch (problem) {
      setOpen(false);
      error.show(problem.detail ?? String(problem));
    }
  });

  panels.append(
    h('section', { class: 'card', 'aria-labelledby': 'audit-heading' }, h('h2', { id: 'audit-heading', tabindex: -1 }, 'Audit'), auditBox),
    h('section', { class: 'card', 'aria-labelledby': 'stats-heading' }, h('h2', { id: 'stats-heading' }, 'Statistics'), statsBox),
    users,
    transfers);
  main.append(
    h('h1', null, 'Administration'),
    h('div', { class: 'toolbar' }, refreshButton, lockButton),
    unlockForm,
    panels);

  if (adminSecret.value) {
    open().catch((problem) => {
      adminSecret.value = null;
      setOpen(false);
      error.show(problem.detail ?? String(problem));
    });
  }
}
