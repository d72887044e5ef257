// A small Phoenix channels client (vsn 1.0.0 objects, 2.0.0 arrays and binary user
// broadcasts), speaking to the relay's normal WebSocket endpoint as any client does:
// joins (public or private, with an access token), broadcasts, presence tracking and
// heartbeats. The console of the inspector drives it.

const HEARTBEAT_MS = 25000;
const REPLY_TIMEOUT_MS = 10000;

export class PhoenixSocket {
  // onMessage({topic, event, payload, ref, join_ref, binary}); onClose(code, reason)
  constructor(url, vsn, onMessage, onClose) {
    this.url = url;
    this.vsn = vsn;
    this.onMessage = onMessage;
    this.onClose = onClose;
    this.ref = 0;
    this.joinRefs = new Map();   // topic -> join_ref
    this.waiting = new Map();    // ref -> {resolve, reject, timer}
    this.ws = null;
    this.heartbeat = null;
  }

  connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      ws.binaryType = 'arraybuffer';
      this.ws = ws;
      ws.onopen = () => {
        this.heartbeat = setInterval(() => this.push('phoenix', 'heartbeat', {}, null).catch(() => {}), HEARTBEAT_MS);
        resolve();
      };
      ws.onerror = () => reject(new Error('the WebSocket could not connect'));
      ws.onclose = (e) => {
        clearInterval(this.heartbeat);
        for (const w of this.waiting.values()) { clearTimeout(w.timer); w.reject(new Error('closed')); }
        this.waiting.clear();
        this.onClose(e.code, e.reason);
      };
      ws.onmessage = (e) => this.receive(e.data);
    });
  }

  close() { if (this.ws) this.ws.close(1000); }
  get open() { return this.ws && this.ws.readyState === WebSocket.OPEN; }

  // Sends a message; resolves with the phx_reply's payload ({status, response}).
  push(topic, event, payload, joinRef = this.joinRefs.get(topic) ?? null, ref = String(++this.ref)) {
    if (!this.open) return Promise.reject(new Error('not connected'));
    const frame = this.vsn === '2.0.0' ? [joinRef, ref, topic, event, payload]
                                        : { topic, event, payload, ref, join_ref: joinRef };
    this.ws.send(JSON.stringify(frame));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.waiting.delete(ref); reject(new Error('no reply in time')); },
                               REPLY_TIMEOUT_MS);
      this.waiting.set(ref, { resolve, reject, timer });
    });
  }

  join(topic, config, accessToken) {
    const ref = String(++this.ref);
    this.joinRefs.set(topic, ref);
    const payload = { config };
    if (accessToken) payload.access_token = accessToken;
    return this.push(topic, 'phx_join', payload, ref, ref);
  }

  leave(topic) {
    return this.push(topic, 'phx_leave', {}).finally(() => this.joinRefs.delete(topic));
  }

  broadcast(topic, event, payload) {
    return this.push(topic, 'broadcast', { type: 'broadcast', event, payload });
  }

  track(topic, meta) {
    return this.push(topic, 'presence', { type: 'presence', event: 'track', payload: meta });
  }

  receive(data) {
    const msg = typeof data === 'string' ? decodeText(data) : decodeBinary(new Uint8Array(data));
    if (!msg) return;
    if (msg.event === 'phx_reply' && msg.ref && this.waiting.has(msg.ref)) {
      const w = this.waiting.get(msg.ref);
      this.waiting.delete(msg.ref);
      clearTimeout(w.timer);
      w.resolve(msg.payload);
    }
    if (msg.topic !== 'phoenix') this.onMessage(msg);
  }
}

function decodeText(text) {
  let data;
  try { data = JSON.parse(text); } catch { return null; }
  if (Array.isArray(data)) {
    const [join_ref, ref, topic, event, payload] = data;
    return { join_ref, ref, topic, event, payload };
  }
  return data;
}

// A binary user broadcast (kind 4): lengths of topic, event and metadata, the payload's
// encoding (1: JSON), then the bytes.
function decodeBinary(bytes) {
  if (bytes.length < 5 || bytes[0] !== 4) return { topic: '?', event: 'binary', payload: { bytes: bytes.length } };
  const [tl, el, ml, enc] = [bytes[1], bytes[2], bytes[3], bytes[4]];
  const text = new TextDecoder();
  let pos = 5;
  const take = (n) => { const s = bytes.subarray(pos, pos + n); pos += n; return s; };
  const topic = text.decode(take(tl));
  const event = text.decode(take(el));
  const meta = take(ml);
  const body = bytes.subarray(pos);
  let payload;
  try { payload = enc === 1 ? JSON.parse(text.decode(body)) : { binary_bytes: body.length }; }
  catch { payload = { undecodable_bytes: body.length }; }
  const inner = { type: 'broadcast', event, payload };
  if (meta.length) { try { inner.meta = JSON.parse(text.decode(meta)); } catch { /* shown without */ } }
  return { topic, event: 'broadcast', payload: inner, binary: true, ref: null, join_ref: null };
}
