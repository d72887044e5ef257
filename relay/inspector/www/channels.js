// The busiest channels of the cluster (searchable), and one channel's members per node,
// presence and postgres_changes subscriptions.
import { $, api, fill, row } from './api.js';

let shown = null;      // {topic, private} of the channel whose detail is open
let query = '';

export function startChannels(onJoin) {
  let timer = null;
  $('#ch-search').addEventListener('input', (e) => {
    query = e.target.value.trim();
    clearTimeout(timer);
    timer = setTimeout(refreshChannels, 250);
  });
  $('#cd-close').addEventListener('click', () => { shown = null; $('#channel-detail').hidden = true; });
  $('#cd-console').addEventListener('click', () => shown && onJoin(shown));
}

export async function refreshChannels() {
  const r = await api('channels', { q: query, limit: 20 });
  const nodes = Object.entries(r.nodes).map(([n, c]) => `${n}: ${c.matched}/${c.channels}`).join(', ');
  $('#ch-summary').textContent = `matched/channels per node: ${nodes}` +
    (r.missing.length ? ` (no answer from ${r.missing.join(', ')})` : '');
  fill($('#channels tbody'), r.list.map((c) => {
    const perNode = Object.entries(c.members).map(([n, m]) => `${n}: ${m}`).join(', ');
    const tr = row([c.topic + (c.private ? ' (private)' : ''), c.total, perNode, c.presence, c.bindings, c.broadcasts],
                   'click');
    tr.addEventListener('click', () => { shown = { topic: c.topic, private: c.private }; refreshDetail(); });
    return tr;
  }));
  if (shown) await refreshDetail();
}

async function refreshDetail() {
  const d = await api('channel', { topic: shown.topic, private: shown.private });
  $('#channel-detail').hidden = false;
  $('#cd-topic').textContent = d.topic + (d.private ? ' (private)' : '');
  const perNode = Object.entries(d.members).map(([n, m]) => `${n}: ${m}`).join(', ');
  $('#cd-summary').textContent = `${d.total} members (${perNode}), ${d.presence.entries} presence entries, ` +
    `${d.broadcasts} broadcasts` + (d.missing.length ? `; no answer from ${d.missing.join(', ')}` : '');
  fill($('#cd-subs tbody'), d.subscriptions.map((s) => row([
    s.event, s.schema, s.table, s.filter, s.role,
    Object.entries(s.members).map(([n, m]) => `${n}: ${m}`).join(', '), s.live])));
  fill($('#cd-presence tbody'), d.presence.list.map((p) => row([p.node, p.key, JSON.stringify(p.meta)])));
  fill($('#cd-members tbody'), d.member_list.map((m) => row([
    m.node, m.id, m.connection, m.vsn, m.role, m.sub, m.presence ? m.presence_key : '', m.bindings])));
}
