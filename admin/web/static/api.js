// The REST API as the pages call it: the same endpoints, bodies and errors as the client SDK.
//
// The login token lives in localStorage (so a trial opened in a new tab stays logged in) and goes
// out as "Authorization: Bearer <token>". Every error answer ({"error": {type, message, ...}}),
// and every failure to reach the admin, becomes an ApiError whose `describe()` is a sentence fit
// to show a person.

const SESSION_KEY = 'singa.session';

export class ApiError extends Error {
  constructor(status, body, fallback) {
    const error = (body && body.error) || {};
    super(error.message || fallback || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;              // 0 when the admin could not be reached
    this.type = error.type || (status ? `HTTP ${status}` : 'NetworkError');
    this.field = error.field || null;
    this.resource = error.resource || null;
  }

  /** A heading and a sentence for a person, by status. */
  describe() {
    const field = this.field ? ` (field "${this.field}")` : '';
    switch (this.status) {
      case 0: return ['Cannot reach the admin', `${this.message}. Check that it is running, then try again.`];
      case 400: return ['The request was refused', this.message + field];
      case 401: return ['You are not logged in', `${this.message}.`];
      case 403: return ['Not allowed', `${this.message}.`];
      case 404: return ['Not found', `${this.message}: it does not exist, or it is not yours to see.`];
      case 409: return ['Conflict', this.message];
      case 413: return ['Too large', this.message];
      case 422: return ['The request was refused', this.message];
      case 429: return ['Too many attempts', `${this.message}.`];
      case 503: return ['Unavailable', this.message];
      default: return [this.status >= 500 ? 'The server failed' : `Error ${this.status}`, this.message];
    }
  }
}

// -- the session -----------------------------------------------------------------------------

export function session() {
  try {
    const s = JSON.parse(localStorage.getItem(SESSION_KEY) || 'null');
    if (s && s.token && Date.parse(s.expires_at) > Date.now()) return s;
  } catch (e) { /* a damaged entry is no session */ }
  return null;
}

export function saveSession(value) { localStorage.setItem(SESSION_KEY, JSON.stringify(value)); }
export function clearSession() { localStorage.removeItem(SESSION_KEY); }

/** Log out: forget the token here at once, and ask the admin to revoke it (every token of the user
 * with `everywhere`). The request is sent with keepalive, so it completes even as the page moves on
 * to the login page; an admin out of reach leaves the token to expire on its own. */
export function logout({ everywhere = false } = {}) {
  const headers = authHeaders();
  clearSession();
  if (!headers.Authorization) return;
  fetch(everywhere ? '/tokens' : '/tokens/current', { method: 'DELETE', headers, keepalive: true, credentials: 'omit' })
    .catch(() => { /* out of reach: nothing more to do here */ });
}

function authHeaders() {
  const s = session();
  return s ? { Authorization: `Bearer ${s.token}` } : {};
}

// -- requests --------------------------------------------------------------------------------

async function parse(response) {
  const text = await response.text();
  let body = null;
  if (text) {
    try { body = JSON.parse(text); } catch (e) { body = null; }
  }
  if (!response.ok) throw new ApiError(response.status, body, `${response.status} ${response.statusText}`);
  return body;
}

async function send(method, path, body, extraHeaders = {}) {
  const headers = { Accept: 'application/json', ...authHeaders(), ...extraHeaders };
  const init = { method, headers, credentials: 'omit' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, null, e.message || 'network error');
  }
  return parse(response);
}

export const api = {
  get: (path, query) => send('GET', path + queryString(query)),
  post: (path, body) => send('POST', path, body === undefined ? {} : body),
  del: (path, body) => send('DELETE', path, body),
};

export function queryString(query) {
  if (!query) return '';
  const pairs = Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== '');
  return pairs.length ? '?' + new URLSearchParams(pairs).toString() : '';
}

/** A path segment: `/train_jobs/${seg(app)}/${version}`. */
export const seg = (value) => encodeURIComponent(String(value));

/** Every page of a paged list (limit/offset), concatenated. */
export async function getAll(path, query = {}, pageSize = 1000) {
  const all = [];
  for (let offset = 0; ; offset += pageSize) {
    const page = await api.get(path, { ...query, limit: pageSize, offset });
    all.push(...page);
    if (page.length < pageSize) return all;
  }
}

/** POST a multipart form, reporting upload progress (fetch cannot): onProgress(sent, total). */
export function upload(path, formData, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    xhr.setRequestHeader('Accept', 'application/json');
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable && onProgress) onProgress(e.loaded, e.total); };
    xhr.upload.onload = () => { if (onProgress) onProgress(1, 1); };
    xhr.onerror = () => reject(new ApiError(0, null, 'the upload was interrupted'));
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, body, `${xhr.status} ${xhr.statusText}`));
    };
    xhr.send(formData);
  });
}

/** Fetch a file with the token and hand it to the browser as a download (named as the server says). */
export async function download(path, fallbackName) {
  let response;
  try {
    response = await fetch(path, { headers: authHeaders(), credentials: 'omit' });
  } catch (e) {
    throw new ApiError(0, null, e.message || 'network error');
  }
  if (!response.ok) await parse(response);
  const disposition = response.headers.get('Content-Disposition') || '';
  const named = disposition.match(/filename="?([^";]+)"?/);
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement('a'), { href: url, download: named ? named[1] : fallbackName });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// -- names the API accepts, read from its own OpenAPI document --------------------------------

let documentPromise = null;

/** The admin's OpenAPI document (fetched once per page). */
export function openapi() {
  if (!documentPromise) documentPromise = api.get('/openapi.json');
  return documentPromise;
}

/** The allowed values of a request body field: enumOf('/train_jobs', 'post', 'advisor'). */
export async function bodyEnum(path, method, field) {
  const doc = await openapi();
  const content = doc.paths?.[path]?.[method]?.requestBody?.content || {};
  for (const media of Object.values(content)) {
    const values = media.schema?.properties?.[field]?.enum;
    if (values) return values;
  }
  return [];
}

/** The allowed values of a property of a response schema: schemaEnum('Dataset', 'task'). */
export async function schemaEnum(schema, property) {
  const doc = await openapi();
  return doc.components?.schemas?.[schema]?.properties?.[property]?.enum || [];
}
