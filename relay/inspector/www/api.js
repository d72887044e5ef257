// The inspector's JSON endpoints (docs/inspector.md), with the admin credential the
// page was given (kept in this tab's sessionStorage only), and small DOM helpers.

const KEY = 'pg_realtime.inspector.token';

export const credential = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

export class Unauthorized extends Error {}

// GET /api/inspector/<what>?<args>, parsed; Unauthorized on 401.
export async function api(what, args = {}, token = credential.get()) {
  const q = new URLSearchParams(args).toString();
  const r = await fetch(`/api/inspector/${what}${q ? '?' + q : ''}`, {
    headers: { Authorization: `Bearer ${token}` }, cache: 'no-store',
  });
  if (r.status === 401) throw new Unauthorized('the relay refused the credential');
  const body = await r.json().catch(() => null);
  if (!r.ok) throw new Error(body?.message || `HTTP ${r.status}`);
  return body;
}

export const $ = (sel) => document.querySelector(sel);

// A <tr> of cells; a number becomes a right-aligned cell.
export function row(cells, className) {
  const tr = document.createElement('tr');
  if (className) tr.className = className;
  for (const c of cells) {
    const td = document.createElement('td');
    if (typeof c === 'number') td.className = 'num';
    td.textContent = c === null || c === undefined ? '' : String(c);
    tr.append(td);
  }
  return tr;
}

export function fill(tbody, rows) { tbody.replaceChildren(...rows); }
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
