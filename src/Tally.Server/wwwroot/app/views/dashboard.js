import { api, query, session } from '../api.js';
import { busy, field, formatAmount, formatDate, h, messageArea, randomKey } from '../dom.js';
import { LiveConnection } from '../live.js';

const HISTORY_PAGE_SIZE = 10;
const ACCOUNT_NUMBER = /^\d{12}$/;
const LIVE_TEXT = {
  connecting: 'Live updates: connecting…',
  live: 'Live updates: on',
  reconnecting: 'Live updates: reconnecting…',
};

// The amount goes to the server as typed (a number when it reads as one), so that the server's rules
// and its problem detail are the only ones: the page never second-guesses them.
function parseAmount(text) {
  const trimmed = text.trim();
  return /^-?\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : trimmed;
}

export function dashboardView(main) {
  let disposed = false;
  let historyPage = 1;
  let recipient = null;
  let lookupTimer = null;
  let lookupRun = 0;
  let retry = null;

  // Summary
  const username = h('span', { id: 'username' }, '…');
  const accountNumber = h('dd', { id: 'account-number', class: 'mono' }, '…');
  const balance = h('dd', { id: 'balance', class: 'amount' }, '…');
  const available = h('dd', { id: 'available', class: 'amount' }, '…');
  const liveStatus = h('p', { id: 'live-status', class: 'live', role: 'status' }, LIVE_TEXT.connecting);
  const pageError = messageArea('error', 'dashboard-error');
  const summary = h('section', { class: 'card summary', 'aria-labelledby': 'summary-heading' },
    h('h2', { id: 'summary-heading' }, 'Account'),
    h('dl', { class: 'figures' },
      h('div', null, h('dt', null, 'Account number'), accountNumber),
      h('div', null, h('dt', null, 'Balance'), balance),
      h('div', null, h('dt', null, 'Available'), available)),
    h('p', { class: 'hint' }, 'Amounts are in minor units (100 = 1.00). Available is the balance less pending holds.'),
    liveStatus);

  // Transfer form
  const toAccount = field('Recipient account number',
    { id: 'to-account', name: 'to_account_number', inputmode: 'numeric', autocomplete: 'off', maxlength: 12, required: true },
    '12 digits. The recipient\'s name appears below before you send.');
  const recipientName = h('output', { id: 'recipient-name', for: 'to-account', class: 'recipient', 'aria-live': 'polite' });
  const amount = field('Amount', { id: 'amount', name: 'amount', inputmode: 'numeric', autocomplete: 'off', required: true }, 'In minor units.');
  const note = field('Note (optional)', { id: 'note', name: 'note', maxlength: 140, autocomplete: 'off' });
  const instant = h('input', { type: 'radio', name: 'mode', id: 'mode-instant', value: 'instant', checked: true });
  const hold = h('input', { type: 'radio', name: 'mode', id: 'mode-hold', value: 'hold' });
  const transferError = messageArea('error', 'transfer-error');
  const transferResult = messageArea('success', 'transfer-result');
  const transferForm = h('form', { class: 'form', novalidate: true, id: 'transfer-form' },
    toAccount, recipientName, amount, note,
    h('fieldset', { class: 'choice' },
      h('legend', null, 'How to send'),
      h('div', { class: 'option' }, instant, h('label', { for: 'mode-instant' }, 'Instantly')),
      h('div', { class: 'option' }, hold, h('label', { for: 'mode-hold' }, 'As a hold that I confirm later'))),
    transferError,
    transferResult,
    h('button', { type: 'submit', class: 'primary', id: 'send' }, 'Send'));
  const transferSection = h('section', { class: 'card', 'aria-labelledby': 'transfer-heading' },
    h('h2', { id: 'transfer-heading' }, 'Send money'), transferForm);

  // Pending holds
  const pendingHeading = h('h2', { id: 'pending-heading', tabindex: -1 }, 'Pending holds');
  const pendingList = h('ul', { id: 'pending', class: 'list' });
  const pendingError = messageArea('error', 'pending-error');
  const pendingSection = h('section', { class: 'card', 'aria-labelledby': 'pending-heading' }, pendingHeading, pendingError, pendingList);

  // Notifications
  const notificationList = h('ul', { id: 'notifications', class: 'list', 'aria-live': 'polite', 'aria-relevant': 'additions' });
  const notificationSection = h('section', { class: 'card', 'aria-labelledby': 'notifications-heading' },
    h('h2', { id: 'notifications-heading' }, 'Notifications'), notificationList);

  // History
  const historyBody = h('tbody', { id: 'history-rows', role: 'rowgroup' });
  const historyStatus = h('p', { id: 'history-page', class: 'pager-status', 'aria-live': 'polite' });
  const previous = h('button', { type: 'button', id: 'history-previous' }, 'Previous');
  const next = h('button', { type: 'button', id: 'history-next' }, 'Next');
  const historySection = h('section', { class: 'card wide', 'aria-labelledby': 'history-heading' },
    h('h2', { id: 'history-heading' }, 'Transactions'),
    h('div', { class: 'table-scroll', tabindex: 0, role: 'region', 'aria-labelledby': 'history-heading' },
      h('table', { id: 'history', role: 'table' },
        h('thead', { role: 'rowgroup' }, h('tr', { role: 'row' },
          h('th', { scope: 'col', role: 'columnheader' }, 'Date'),
          h('th', { scope: 'col', role: 'columnheader' }, 'With'),
          h('th', { scope: 'col', role: 'columnheader', class: 'num' }, 'Amount'),
          h('th', { scope: 'col', role: 'columnheader' }, 'Status'),
          h('th', { scope: 'col', role: 'columnheader' }, 'Note'))),
        historyBody)),
    h('nav', { class: 'pager', 'aria-label': 'Transaction pages' }, previous, historyStatus, next));

  main.append(
    h('h1', null, 'Hello, ', username),
    pageError,
    h('div', { class: 'grid' }, summary, transferSection, pendingSection, notificationSection, historySection));

  async function guarded(work, errorArea = pageError) {
    try {
      await work();
    } catch (problem) {
      if (!disposed && problem.status !== 401) {
        errorArea.show(problem.detail ?? String(problem));
      }
    }
  }

  async function loadMe() {
    const me = await api('/api/account/me');
    username.textContent = me.username;
    document.title = `${me.username} · Tally`;
    accountNumber.textContent = me.account_number;
  }

  async function loadBalance() {
    const figures = await api('/api/account/balance');
    balance.textContent = formatAmount(figures.balance);
    available.textContent = formatAmount(figures.available);
  }

  function historyRow(item) {
    const incoming = item.direction === 'in';
    // Explicit roles: the phone layout restyles the rows, which must not cost them their table semantics.
    return h('tr', { role: 'row', 'data-transfer-id': item.transfer_id },
      h('td', { role: 'cell' }, formatDate(item.created_at)),
      h('td', { role: 'cell' }, `${incoming ? 'From' : 'To'} ${item.counterparty_username} `,
        h('span', { class: 'mono muted' }, item.counterparty_account_number)),
      h('td', { role: 'cell', class: `num ${incoming ? 'in' : 'out'}` }, `${incoming ? '+' : '−'}${formatAmount(item.amount)}`),
      h('td', { role: 'cell' }, h('span', { class: `status status-${String(item.status).toLowerCase()}` }, item.status)),
      h('td', { role: 'cell' }, item.note ?? ''));
  }

  async function loadHistory() {
    const result = await api(query('/api/account/transactions', { page: historyPage, size: HISTORY_PAGE_SIZE }));
    const pages = Math.max(1, result.pages);
    if (historyPage > pages) {
      historyPage = pages;
      return loadHistory();
    }
    historyBody.replaceChildren(...(result.items.length
      ? result.items.map(historyRow)
      : [h('tr', { role: 'row' }, h('td', { role: 'cell', colspan: 5, class: 'empty' }, 'No transactions yet.'))]));
    historyStatus.textContent = `Page ${result.page} of ${pages} (${result.total} in all)`;
    previous.disabled = result.page <= 1;
    next.disabled = result.page >= pages;
    return undefined;
  }

  async function resolve(action, item, button) {
    pendingError.show(null);
    button.disabled = true;
    try {
      await api(`/api/transfer/${action}`, { method: 'POST', body: { transfer_id: item.transfer_id } });
      transferResult.show(action === 'confirm'
        ? `Confirmed: ${formatAmount(item.amount)} sent to ${item.counterparty_username}.`
        : `Cancelled: the hold of ${formatAmount(item.amount)} for ${item.counterparty_username} is released.`);
      await refresh();
    } catch (problem) {
      pendingError.show(problem.detail ?? String(problem));
      button.disabled = false;
    }
    pendingHeading.focus();
  }

  function pendingItem(item) {
    const label = `${formatAmount(item.amount)} to ${item.counterparty_username}`;
    const confirm = h('button', { type: 'button', class: 'primary', 'aria-label': `Confirm ${label}` }, 'Confirm');
    const cancel = h('button', { type: 'button', 'aria-label': `Cancel ${label}` }, 'Cancel');
    confirm.addEventListener('click', () => resolve('confirm', item, confirm));
    cancel.addEventListener('click', () => resolve('cancel', item, cancel));
    return h('li', { class: 'pending-item', 'data-transfer-id': item.transfer_id },
      h('span', null, label, item.note ? ` (${item.note})` : ''),
      h('span', { class: 'actions' }, confirm, cancel));
  }

  async function loadPending() {
    // The sender's holds are the outgoing PENDING items of the newest transactions.
    const result = await api(query('/api/account/transactions', { page: 1, size: 100 }));
    const holds = result.items.filter((item) => item.direction === 'out' && item.status === 'PENDING');
    pendingList.replaceChildren(...(holds.length
      ? holds.map(pendingItem)
      : [h('li', { class: 'empty' }, 'No pending holds.')]));
  }

  function notificationItem(notification) {
    return h('li', { class: 'notification', 'data-notification-id': notification.id },
      h('span', null, notification.message),
      h('time', { datetime: notification.created_at, class: 'muted' }, formatDate(notification.created_at)));
  }

  async function loadNotifications() {
    const items = await api('/api/notifications/notifications');
    notificationList.replaceChildren(...(items.length
      ? items.slice(0, 10).map(notificationItem)
      : [h('li', { class: 'empty' }, 'Nothing yet.')]));
  }

  function showNotification(notification) {
    if (notificationList.querySelector(`[data-notification-id="${CSS.escape(String(notification.id))}"]`)) {
      return;
    }
    notificationList.querySelector('.empty')?.remove();
    notificationList.prepend(notificationItem(notification));
    while (notificationList.children.length > 10) {
      notificationList.lastElementChild.remove();
    }
  }

  async function refresh() {
    await Promise.all([loadBalance(), loadPending(), loadHistory()]);
  }

  async function lookUp(number) {
    const run = ++lookupRun;
    recipient = null;
    recipientName.className = 'recipient';
    if (!ACCOUNT_NUMBER.test(number)) {
      recipientName.textContent = '';
      return null;
    }
    recipientName.textContent = 'Looking up…';
    try {
      const found = await api(query('/api/account/lookup', { account_number: number }));
      if (run !== lookupRun) {
        return null;
      }
      recipient = found;
      recipientName.textContent = `Recipient: ${found.username}`;
      recipientName.classList.add('found');
      return found;
    } catch (problem) {
      if (run === lookupRun) {
        recipientName.textContent = problem.detail ?? String(problem);
        recipientName.classList.add('not-found');
      }
      return null;
    }
  }

  toAccount.input.addEventListener('input', () => {
    window.clearTimeout(lookupTimer);
    const number = toAccount.input.value.trim();
    lookupTimer = window.setTimeout(() => { lookUp(number); }, 250);
  });

  transferForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    transferError.show(null);
    transferResult.show(null);
    window.clearTimeout(lookupTimer);
    const number = toAccount.input.value.trim();
    const isHold = hold.checked;
    try {
      await busy(transferForm, async () => {
        const to = recipient?.account_number === number ? recipient : await lookUp(number);
        if (!to) {
          transferError.show(ACCOUNT_NUMBER.test(number)
            ? recipientName.textContent
            : 'Enter the recipient\'s 12-digit account number.');
          return;
        }
        const body = { to_account_number: number, amount: parseAmount(amount.input.value), instant: !isHold };
        const noteText = note.input.value.trim();
        if (noteText) {
          body.note = noteText;
        }
        // A retry of the same transfer after a network error or a 5xx reuses its key, so it applies at most once.
        const payload = JSON.stringify(body);
        if (retry?.payload !== payload) {
          retry = { payload, key: randomKey() };
        }
        let result;
        try {
          result = await api('/api/transfer/transfer', { method: 'POST', body, headers: { 'Idempotency-Key': retry.key } });
        } catch (problem) {
          if (problem.status !== 0 && problem.status < 500) {
            retry = null;
          }
          throw problem;
        }
        retry = null;
        transferResult.show(result.status === 'PENDING'
          ? `Held ${formatAmount(result.amount)} for ${to.username} until ${formatDate(result.hold_until)}. Confirm or cancel it under Pending holds.`
          : `Sent ${formatAmount(result.amount)} to ${to.username}.`);
        amount.input.value = '';
        note.input.value = '';
        await refresh();
      });
    } catch (problem) {
      if (problem.status !== 401) {
        transferError.show(problem.detail ?? String(problem));
      }
    }
    if (!transferError.hidden) {
      amount.input.focus();
    }
  });

  previous.addEventListener('click', () => { historyPage = Math.max(1, historyPage - 1); guarded(loadHistory); });
  next.addEventListener('click', () => { historyPage += 1; guarded(loadHistory); });

  let live = null;
  function goLive() {
    live = new LiveConnection(session.token, {
      onNotification: (notification) => {
        showNotification(notification);
        guarded(refresh);
      },
      onStatus: (state) => { liveStatus.textContent = LIVE_TEXT[state]; liveStatus.dataset.state = state; },
      // Whatever happened before the socket opened (or while it was down) is read back from the API.
      onOpen: () => guarded(async () => { await Promise.all([refresh(), loadNotifications()]); }),
      // A refused upgrade may be a revoked or expired session: an API call tells, and a 401 leads to login.
      onRefused: () => { api('/api/account/balance').catch(() => {}); },
    }).start();
  }

  // The socket opens once the session is known to be good, so a stale session never reaches /ws.
  guarded(async () => {
    const results = await Promise.allSettled([loadMe(), refresh(), loadNotifications()]);
    const failure = results.find((result) => result.status === 'rejected');
    if (failure) {
      throw failure.reason;
    }
    if (!disposed) {
      goLive();
    }
  });

  return {
    dispose() {
      disposed = true;
      window.clearTimeout(lookupTimer);
      live?.stop();
    },
  };
}
