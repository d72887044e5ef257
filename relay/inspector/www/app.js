// The inspector's page: the admin prompt, then the cluster (a snapshot every two
// seconds), the rates (the feed, a long poll answered once a second), the busiest
// channels and the console.
import { $, Unauthorized, api, credential, fill, row, sleep } from './api.js';
import { COLORS, LineChart, short } from './charts.js';
import { refreshChannels, startChannels } from './channels.js';
import { joinFromList, startConsole } from './console.js';

const KEPT = 120;        // samples a chart shows
const samples = [];
const colors = new Map();
let charts = [];
let running = false;

function colorOf(node) {
  if (!colors.has(node)) colors.set(node, COLORS[colors.size % COLORS.length]);
  return colors.get(node);
}

function showLogin(message) {
  running = false;
  $('#main').hidden = true;
  $('#logout').hidden = true;
  $('#login').hidden = false;
  $('#login-error').textContent = message || '';
}

async function login(e) {
  e.preventDefault();
  const token = $('#token').value.trim();
  try {
    await api('snapshot', {}, token);
  } catch (err) {
    showLogin(err instanceof Unauthorized ? 'The relay refused this credential.' : err.message);
    return;
  }
  credential.set(token);
  start();
}

function ago(ms) { return ms < 0 ? 'never' : ms < 1000 ? 'now' : `${(ms / 1000).toFixed(1)} s ago`; }

function renderNodes(snap) {
  $('#where').textContent = `served by ${snap.node}`;
  fill($('#nodes tbody'), snap.nodes.map((n) => {
    const tr = row([
      n.node + (n.self ? ' (this)' : ''), n.state, n.region, n.incarnation, n.slot_holder ? 'holds' : '',
      n.slot_holder ? `${short(n.slot_lag_bytes)} B, ${n.slot_lag_ms} ms` : '',
      n.connections, n.channels, n.presence, n.subscriptions, n.change_gaps, n.mesh_dropped,
      n.self ? '' : ago(n.heard_ms_ago),
    ], n.state === 'up' ? '' : 'down');
    tr.dataset.node = n.node;
    tr.firstChild.style.borderLeft = `4px solid ${colorOf(n.node)}`;
    return tr;
  }));
}

function makeCharts() {
  const box = $('#charts');
  box.replaceChildren();
  charts = [
    new LineChart(box, 'connections', '', (n) => n.connections),
    new LineChart(box, 'channels', '', (n) => n.channels),
    new LineChart(box, 'messages in', '/s', (n) => n.in),
    new LineChart(box, 'messages out', '/s', (n) => n.out),
    new LineChart(box, 'deliveries', '/s', (n) => n.deliveries),
    new LineChart(box, 'decode to send p99', ' ms', (n) => n.p99_ms),
  ];
}

function renderCharts() {
  const nodes = [...new Set(samples.flatMap((s) => s.nodes.map((n) => n.node)))].sort();
  for (const c of charts) c.draw(samples, nodes, colorOf);
  fill($('#legend'), nodes.map((n) => {
    const s = document.createElement('span');
    const i = document.createElement('i');
    i.style.background = colorOf(n);
    s.append(i, n);
    return s;
  }));
}

// Each loop runs until the page signs out; a refused credential brings the prompt back.
async function loop(name, step, pauseMs) {
  while (running) {
    try {
      await step();
    } catch (err) {
      if (err instanceof Unauthorized) { credential.clear(); showLogin('The credential is no longer accepted.'); return; }
      console.warn(name, err);
      await sleep(2000);
    }
    if (pauseMs) await sleep(pauseMs);
  }
}

let seq = 0;
async function feedStep() {
  const r = await api('feed', { after: seq });
  if (r.seq < seq) samples.length = 0;  // the relay restarted
  seq = r.seq;
  samples.push(...r.samples);
  samples.splice(0, Math.max(0, samples.length - KEPT));
  renderCharts();
}

function start() {
  $('#login').hidden = true;
  $('#main').hidden = false;
  $('#logout').hidden = false;
  makeCharts();
  running = true;
  seq = 0;
  samples.length = 0;
  loop('snapshot', async () => renderNodes(await api('snapshot')), 2000);
  loop('feed', feedStep, 0);
  loop('channels', refreshChannels, 3000);
}

$('#login-form').addEventListener('submit', login);
$('#logout').addEventListener('click', () => { credential.clear(); showLogin(''); });
startChannels(joinFromList);
startConsole();
if (credential.get()) start(); else showLogin('');
