// Two realtime-js clients broadcasting to each other on one channel.
//
//   RT_VSN_A, RT_VSN_B  protocol of each client: "2.0.0", "1.0.0", or "default" (realtime-js's
//                       own default, which is 2.0.0); default "default"
//   RT_SELF, RT_ACK     the channel's broadcast config (1/0), default 0
//
// Asserts: both clients reach SUBSCRIBED (and nothing else); each receives the other's
// message with the exact event and payload; with self the sender gets its own message
// back, without self it does not; with ack send() resolves "ok" on the server's reply and
// the server replied to each broadcast, without ack the server sends no reply; with vsn
// 2.0.0 the broadcasts travel as binary kind 3 (out) and kind 4 (in), with 1.0.0 as text.
// When both are 2.0.0, a binary (ArrayBuffer) payload arrives byte for byte as well. Then a
// third client that never joins sends through realtime-js's REST fallback and both get it.
import { assert, env, envBool, makeClient, runScenario, subscribe, uniqueTopic, waitFor } from './harness.mjs'

const KIND_USER_BROADCAST_PUSH = 3
const KIND_USER_BROADCAST = 4

function vsnOption(name) {
  const v = env(name, 'default')
  return v === 'default' ? undefined : v
}

runScenario('broadcast', async () => {
  const self = envBool('RT_SELF')
  const ack = envBool('RT_ACK')
  const topic = uniqueTopic('bcast')
  const config = { broadcast: { self, ack } }

  const peers = ['a', 'b'].map((name) => {
    const vsn = vsnOption(`RT_VSN_${name.toUpperCase()}`)
    const entry = makeClient(name, { vsn })
    const channel = entry.client.channel(topic, { config })
    const got = []
    channel.on('broadcast', { event: 'chat' }, (msg) => got.push(msg))
    channel.on('broadcast', { event: 'bytes' }, (msg) => got.push(msg))
    return { ...entry, vsn: entry.client.vsn, channel, got, statuses: [] }
  })
  const [a, b] = peers

  for (const p of peers) {
    assert.equal(p.client.vsn, vsnOption(`RT_VSN_${p.name.toUpperCase()}`) ?? '2.0.0')
    assert.match(p.client.endpointURL(), new RegExp(`[?&]vsn=${p.client.vsn.replace(/\./g, '\\.')}(&|$)`))
  }

  await Promise.all(peers.map((p) => subscribe(p.channel, p.statuses)))
  for (const p of peers) assert.equal(p.channel.state, 'joined', `${p.name} channel state`)

  const payloadOf = (name) => ({
    from: name,
    n: 42,
    ratio: 0.5,
    ok: true,
    none: null,
    list: [1, 'two', { three: 3 }],
    nested: { text: 'héllo wörld ✓ 🎉', quote: 'say "hi"\n' },
  })

  // a -> b, then b -> a once b has it. By causality, had the relay echoed a's message back
  // to a (self: false), a would have it before b's reply.
  const sendResults = {}
  sendResults.a = await a.channel.send({ type: 'broadcast', event: 'chat', payload: payloadOf('a') })
  await waitFor('b to receive a\'s message', () => b.got.find((m) => m.payload?.from === 'a'))
  sendResults.b = await b.channel.send({ type: 'broadcast', event: 'chat', payload: payloadOf('b') })
  await waitFor('a to receive b\'s message', () => a.got.find((m) => m.payload?.from === 'b'))

  for (const [me, other] of [[a, b], [b, a]]) {
    const msg = me.got.find((m) => m.payload?.from === other.name)
    assert.equal(msg.type, 'broadcast')
    assert.equal(msg.event, 'chat')
    assert.deepEqual(msg.payload, payloadOf(other.name), `${me.name} got ${other.name}'s payload intact`)
  }

  if (self) {
    for (const p of peers) {
      const own = await waitFor(`${p.name} to receive its own message (self: true)`, () =>
        p.got.find((m) => m.payload?.from === p.name))
      assert.deepEqual(own.payload, payloadOf(p.name))
    }
  } else {
    // a's own message would have arrived before b's; b's check is made after one more
    // round trip (a sends a marker that b waits for).
    await a.channel.send({ type: 'broadcast', event: 'chat', payload: { from: 'a', marker: true } })
    await waitFor('b to receive a\'s marker', () => b.got.find((m) => m.payload?.marker))
    for (const p of peers) {
      assert.equal(p.got.filter((m) => m.payload?.from === p.name).length, 0,
        `${p.name} must not receive its own broadcast with self: false`)
    }
  }

  // Server replies to broadcast pushes: ack true -> one ok reply per push; false -> none.
  for (const p of peers) {
    assert.equal(sendResults[p.name], 'ok', `${p.name} send() result`)
    const joinRef = p.channel.joinPush.ref
    const replies = p.messages.filter((m) => m.topic === p.channel.topic && m.event === 'phx_reply' && m.ref !== joinRef)
    if (ack) {
      assert.ok(replies.length >= 1, `${p.name}: ack: true but no reply to its broadcast`)
      for (const r of replies) assert.equal(r.payload?.status, 'ok', `${p.name} broadcast ack status`)
    } else {
      assert.equal(replies.length, 0, `${p.name}: ack: false but the server replied: ${JSON.stringify(replies)}`)
    }
  }

  // Wire encoding actually used.
  for (const p of peers) {
    if (p.vsn === '2.0.0') {
      assert.ok(p.frames.sentBinary.includes(KIND_USER_BROADCAST_PUSH), `${p.name} (2.0.0) sent no kind 3 frame`)
    } else {
      assert.equal(p.frames.sentBinary.length, 0, `${p.name} (1.0.0) sent binary frames`)
      assert.equal(p.frames.recvBinary.length, 0, `${p.name} (1.0.0) received binary frames`)
    }
  }
  // A 2.0.0 receiver gets broadcasts pushed as kind 3 as kind 4 frames (a 1.0.0 sender's
  // JSON broadcast may reach it as a text frame; realtime-js decodes both).
  for (const p of peers) {
    const other = p === a ? b : a
    if (p.vsn === '2.0.0' && (other.vsn === '2.0.0' || self)) {
      assert.ok(p.frames.recvBinary.includes(KIND_USER_BROADCAST), `${p.name} (2.0.0) received no kind 4 frame`)
      assert.ok(p.frames.recvBinary.every((k) => k === KIND_USER_BROADCAST), `unexpected binary kinds ${p.frames.recvBinary}`)
    }
  }

  // Binary payloads (encoding 0) between two 2.0.0 clients.
  let binaryChecked = false
  if (a.vsn === '2.0.0' && b.vsn === '2.0.0') {
    const bytes = new Uint8Array([0, 1, 2, 250, 255, 0, 128])
    await a.channel.send({ type: 'broadcast', event: 'bytes', payload: bytes.buffer.slice(0) })
    const msg = await waitFor('b to receive the binary payload', () => b.got.find((m) => m.event === 'bytes'))
    assert.ok(msg.payload instanceof ArrayBuffer, `binary payload arrived as ${Object.prototype.toString.call(msg.payload)}`)
    assert.deepEqual([...new Uint8Array(msg.payload)], [...bytes])
    binaryChecked = true
  }

  // REST: send() on a channel that is not joined falls back to POST <endpoint>/api/broadcast
  // (realtime-js derives that URL from the socket endpoint); both members receive it.
  const rest = makeClient('rest', {})
  const restChannel = rest.client.channel(topic, { config })
  const restResult = await restChannel.send({ type: 'broadcast', event: 'chat', payload: { from: 'rest', n: 7 } })
  assert.equal(restResult, 'ok', `REST fallback send() to ${restChannel.broadcastEndpointURL}`)
  for (const p of peers) {
    const msg = await waitFor(`${p.name} to receive the REST broadcast`, () => p.got.find((m) => m.payload?.from === 'rest'))
    assert.deepEqual(msg.payload, { from: 'rest', n: 7 })
    assert.equal(msg.event, 'chat')
  }
  assert.equal(rest.client.isConnected(), false, 'the REST sender never opened a socket')

  for (const p of peers) assert.deepEqual(p.statuses, ['SUBSCRIBED'], `${p.name} subscribe statuses`)

  return {
    topic,
    endpoint: env('RT_ENDPOINT'),
    rest_endpoint: restChannel.broadcastEndpointURL,
    self,
    ack,
    vsn: { a: a.vsn, b: b.vsn },
    received: { a: a.got.length, b: b.got.length },
    binary_payload_checked: binaryChecked,
    frames: Object.fromEntries(peers.map((p) => [p.name, {
      sent_text: p.frames.sentText,
      sent_binary_kinds: p.frames.sentBinary,
      recv_text: p.frames.recvText,
      recv_binary_kinds: p.frames.recvBinary,
    }])),
    statuses: Object.fromEntries(peers.map((p) => [p.name, p.statuses])),
  }
})
