// The one way the app talks to Tally: same-origin fetch, JSON in and out, problems turned into ApiError.
const SESSION_KEY = 'tally.session';
const ADMIN_KEY = 'tally.admin-secret';

export const session = {
  get token() { return sessionStorage.getItem(SESSION_KEY); },
  set token(value) {
    if (value) {
      sessionStorage.setItem(SESSION_KEY, value);
    } else {
      sessionStorage.removeItem(SESSION_KEY);
    }
  },
};

export const adminSecret = {
  get value() { return sessionStorage.getItem(ADMIN_KEY); },
  set value(secret) {
    if (secret) {
      sessionStorage.setItem(ADMIN_KEY, secret);
    } else {
      sessionStorage.removeItem(ADMIN_KEY);
    }
  },
};

// An RFC 9457 problem from the API (or a network failure, status 0). `detail` is the sentence to show.
export class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail);
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

export const UNAUTHENTICATED_EVENT = 'tally:unauthenticated';

export async function api(path, { method = 'GET', body, auth = true, admin = false, headers = {} } = {}) {
  const requestHeaders = { Accept: 'application/json, application/problem+json', ...headers };
  if (body !== undefined) {
    requestHeaders['Content-Type'] = 'application/json';
  }
  if (auth && session.token) {
    requestHeaders['X-Session'] = session.token;
  }
  if (admin && adminSecret.value) {
    requestHeaders['X-Admin-Secret'] = adminSecret.value;
  }
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: requestHeaders,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'NETWORK', 'Tally cannot be reached right now. Check your connection and try again.');
  }
  if (response.status === 204) {
    return null;
  }
  const type = response.headers.get('Content-Type') ?? '';
  const data = type.includes('json') ? await response.json().catch(() => null) : null;
  if (response.ok) {
    return data;
  }
  const detail = typeof data?.detail === 'string' && data.detail
    ? data.detail
    : `The request failed (${response.status} ${response.statusText}).`;
  const error = new ApiError(response.status, data?.error_code ?? `HTTP_${response.status}`, detail);
  if (response.status === 401 && auth) {
    // The session is missing, expired or revoked: the app goes back to the login page.
    session.token = null;
    window.dispatchEvent(new CustomEvent(UNAUTHENTICATED_EVENT, { detail }));
  }
  throw error;
}

export function query(path, parameters) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) {
    if (value !== undefined && value !== null && value !== '') {
      search.set(name, String(value));
    }
  }
  const text = search.toString();
  return text ? `${path}?${text}` : path;
}
