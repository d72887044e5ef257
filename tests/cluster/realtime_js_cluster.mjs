// Two @supabase/realtime-js clients on two relays of one cluster exchange broadcasts and
// see each other's presence. Run by test_cluster_realtime_js.py with tests/js's harness
// (and its node_modules).
//
//   RT_ENDPOINT_A, RT_ENDPOINT_B  the two relays' realtime-js endpoints (.../socket)
//   RT_VSN                        "default" (realtime-js's own, 2.0.0) or "1.0.0"
//
// Asserts: both reach SUBSCRIBED; after both track, each presenceState() holds exactly
// alice and bob with the tracked fields; a broadcast from each reaches the other with the
// exact payload (the first ones are repeated until one arrives: a new channel's route
// between nodes is set up asynchronously after the join), then 30 numbered messages from
// alice arrive at bob in order and none comes back to alice (self: false); an untrack on
// one side is a leave on the other.
import { assert, env, makeClient, runScenario, sleep, subscribe, uniqueTopic, waitFor } from '../js/harness.mjs'

runScenario('cluster', async () => {
  const vsnEnv = env('RT_VSN', 'default')
  const vsn = vsnEnv === 'default' ? undefined : vsnEnv
  const topic = uniqueTopic('cluster')

  const peers = [['alice', 'RT_ENDPOINT_A'], ['bob', 'RT_ENDPOINT_B']].map(([key, endpointVar]) => {
    const entry = makeClient(key, { vsn, endpoint: env(endpointVar) })
    const channel = entry.client.channel(topic, { config: { presence: { key }, broadcast: { self: false } } })
    const got = []
    const leaves = []
    channel
      .on('broadcast', { event: 'chat' }, (msg) => got.push(msg))
      .on('presence', { event: 'leave' }, ({ key: k }) => leaves.push(k))
    return { ...entry, key, channel, got, leaves, statuses: [] }
  })
  const [alice, bob] = peers

  await Promise.all(peers.map((p) => subscribe(p.channel, p.statuses)))
  for (const p of peers) assert.equal(await p.channel.track({ user: p.key, node: p.key === 'alice' ? 'A' : 'B' }), 'ok')
  const hasBoth = (p) => {
    const s = p.channel.presenceState()
    return Object.keys(s).sort().join(',') === 'alice,bob' && s.alice.length === 1 && s.bob.length === 1
  }
  await waitFor('both presence states to hold alice and bob', () => peers.every(hasBoth), 20000)
  for (const p of peers) {
    const s = p.channel.presenceState()
    assert.equal(s.alice[0].node, 'A')
    assert.equal(s.bob[0].node, 'B')
  }

  // First broadcasts in each direction, repeated until one lands.
  const payloadOf = (from, n) => ({ from, n, text: 'héllo ✓', list: [1, 'two', { three: 3 }] })
  for (const [me, other] of [[alice, bob], [bob, alice]]) {
    let n = 0
    const deadline = Date.now() + 15000
    while (!other.got.find((m) => m.payload?.from === me.key)) {
      assert.ok(Date.now() < deadline, `${me.key}'s broadcasts never reached ${other.key}`)
      assert.equal(await me.channel.send({ type: 'broadcast', event: 'chat', payload: payloadOf(me.key, n++) }), 'ok')
      await sleep(100)
    }
    const msg = other.got.find((m) => m.payload?.from === me.key)
    assert.equal(msg.event, 'chat')
    assert.deepEqual(msg.payload, payloadOf(me.key, msg.payload.n))
  }

  // Now the route exists: 30 numbered messages, all delivered, in order.
  bob.got.length = 0
  for (let i = 0; i < 30; i++) {
    assert.equal(await alice.channel.send({ type: 'broadcast', event: 'chat', payload: { from: 'alice', seq: i } }), 'ok')
  }
  await waitFor('bob to receive 30 numbered messages', () => bob.got.filter((m) => m.payload?.seq !== undefined).length >= 30)
  assert.deepEqual(bob.got.filter((m) => m.payload?.seq !== undefined).map((m) => m.payload.seq), [...Array(30).keys()])
  assert.equal(alice.got.filter((m) => m.payload?.from === 'alice').length, 0, 'self: false, yet alice got her own')

  // Untrack on B: a leave on A.
  await bob.channel.untrack()
  await waitFor('alice to see bob leave', () => alice.leaves.includes('bob'))
  await waitFor('alice presence state to lose bob', () => !alice.channel.presenceState().bob)

  return {
    vsn: alice.client.vsn,
    statuses: { alice: [...alice.statuses], bob: [...bob.statuses] },  // copies: closing adds CLOSED
    frames: { alice_sent_binary: alice.frames.sentBinary.length, bob_recv_binary: bob.frames.recvBinary.length },
  }
})
