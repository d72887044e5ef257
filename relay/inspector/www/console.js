// The console: a Phoenix client of this page's own (phoenix.js) on the relay's normal
// WebSocket endpoint, to join any channel, watch what arrives (broadcasts, presence
// state and diffs, postgres_changes, system messages), send broadcasts and track presence.
import { $ } from './api.js';
import { PhoenixSocket } from './phoenix.js';

const MAX_LINES = 500;
let socket = null;
let topic = null;   // the joined channel's full topic ("realtime:...")

function log(kind, text) {
  const li = document.createElement('li');
  li.className = kind;
  li.textContent = `${new Date().toISOString().slice(11, 23)} ${text}`;
  const list = $('#c-log');
  list.append(li);
  while (list.children.length > MAX_LINES) list.firstChild.remove();
  list.scrollTop = list.scrollHeight;
}

function setState(text) { $('#c-state').textContent = text; }

function parseJson(id, fallback) {
  const text = $(id).value.trim();
  if (!text) return fallback;
  return JSON.parse(text);  // the caller shows the error
}

async function connect() {
  if (socket) socket.close();
  const apikey = $('#c-apikey').value.trim();
  const vsn = $('#c-vsn').value;
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/socket/websocket?` +
    new URLSearchParams({ apikey, vsn }).toString();
  const s = new PhoenixSocket(url, vsn, received, (code, reason) => {
    if (socket === s) { socket = null; topic = null; setState('disconnected'); }
    log('sys', `closed (${code}${reason ? ' ' + reason : ''})`);
  });
  socket = s;
  setState('connecting');
  try {
    await s.connect();
    setState(`connected (vsn ${vsn})`);
    log('sys', 'connected');
  } catch (e) {
    log('err', e.message);
  }
}

function received(msg) {
  const p = msg.payload;
  if (msg.event === 'broadcast') log('in', `broadcast ${p.event}: ${JSON.stringify(p.payload)}${msg.binary ? ' (binary)' : ''}`);
  else if (msg.event === 'presence_diff') log('in', `presence_diff joins=${JSON.stringify(p.joins)} leaves=${JSON.stringify(p.leaves)}`);
  else if (msg.event === 'presence_state') log('in', `presence_state ${JSON.stringify(p)}`);
  else if (msg.event === 'postgres_changes') log('in', `postgres_changes ${JSON.stringify(p.data ?? p)}`);
  else if (msg.event === 'phx_reply') log('sys', `reply ${msg.ref}: ${JSON.stringify(p)}`);
  else log('in', `${msg.event} ${JSON.stringify(p)}`);
}

async function join() {
  if (!socket || !socket.open) { log('err', 'connect first'); return; }
  const name = $('#c-topic').value.trim();
  if (!name) { log('err', 'a topic is needed'); return; }
  let changes;
  try { changes = parseJson('#c-changes', []); } catch (e) { log('err', `changes: ${e.message}`); return; }
  const key = $('#c-key').value.trim();
  const config = {
    broadcast: { self: true, ack: true },
    presence: { enabled: true, key },
    postgres_changes: changes,
    private: $('#c-private').checked,
  };
  const full = name.startsWith('realtime:') ? name : `realtime:${name}`;
  if (topic && topic !== full) await leave();
  const token = $('#c-access').value.trim() || $('#c-apikey').value.trim();
  log('out', `join ${full} ${JSON.stringify(config)}`);
  try {
    const r = await socket.join(full, config, token);
    if (r.status === 'ok') { topic = full; setState(`joined ${full}`); }
    else log('err', `join refused: ${JSON.stringify(r.response)}`);
  } catch (e) { log('err', `join: ${e.message}`); }
}

async function leave() {
  if (!socket || !topic) return;
  const t = topic;
  topic = null;
  log('out', `leave ${t}`);
  try { await socket.leave(t); } catch (e) { log('err', `leave: ${e.message}`); }
  setState('connected');
}

async function send() {
  if (!topic) { log('err', 'join a channel first'); return; }
  let payload;
  try { payload = parseJson('#c-payload', {}); } catch (e) { log('err', `payload: ${e.message}`); return; }
  const event = $('#c-event').value.trim() || 'message';
  log('out', `broadcast ${event}: ${JSON.stringify(payload)}`);
  try { await socket.broadcast(topic, event, payload); } catch (e) { log('err', `broadcast: ${e.message}`); }
}

async function track() {
  if (!topic) { log('err', 'join a channel first'); return; }
  let meta;
  try { meta = parseJson('#c-meta', {}); } catch (e) { log('err', `meta: ${e.message}`); return; }
  log('out', `track ${JSON.stringify(meta)}`);
  try { await socket.track(topic, meta); } catch (e) { log('err', `track: ${e.message}`); }
}

export function startConsole() {
  $('#c-connect').addEventListener('click', connect);
  $('#c-join').addEventListener('click', join);
  $('#c-leave').addEventListener('click', leave);
  $('#c-send').addEventListener('click', send);
  $('#c-track').addEventListener('click', track);
  $('#c-clear').addEventListener('click', () => $('#c-log').replaceChildren());
}

// From the channel list: the topic in the console's field, joined if connected.
export function joinFromList(channel) {
  $('#c-topic').value = channel.topic.replace(/^realtime:/, '');
  $('#c-private').checked = channel.private;
  $('#console').scrollIntoView();
  if (socket && socket.open) join();
}
