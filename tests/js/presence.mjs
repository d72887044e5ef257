// Presence between two realtime-js clients: sync, join and leave events.
//
//   RT_VSN   protocol of both clients ("2.0.0", "1.0.0" or "default"), default "default"
//
// Asserts: both reach SUBSCRIBED (and nothing else); after each tracks, both see `sync`
// and a `join` for the other's key, and presenceState() on both holds exactly the two
// keys, each with one presence carrying the tracked fields and a `presence_ref`; a
// re-track (update) replaces the meta (one presence, new fields) on the other side; an
// untrack gives the other a `leave` with the left presence and removes the key; tracking
// again and then disconnecting the socket gives the other a `leave` too.
import { assert, env, makeClient, runScenario, subscribe, uniqueTopic, waitFor } from './harness.mjs'

runScenario('presence', async () => {
  const vsnEnv = env('RT_VSN', 'default')
  const vsn = vsnEnv === 'default' ? undefined : vsnEnv
  const topic = uniqueTopic('presence')

  const peers = ['alice', 'bob'].map((key) => {
    const entry = makeClient(key, { vsn })
    const channel = entry.client.channel(topic, { config: { presence: { key } } })
    const events = { sync: 0, join: [], leave: [] }
    channel
      .on('presence', { event: 'sync' }, () => { events.sync += 1 })
      .on('presence', { event: 'join' }, ({ key: k, newPresences, currentPresences }) =>
        events.join.push({ key: k, newPresences, currentPresences }))
      .on('presence', { event: 'leave' }, ({ key: k, leftPresences, currentPresences }) =>
        events.leave.push({ key: k, leftPresences, currentPresences }))
    return { ...entry, key, channel, events, statuses: [] }
  })
  const [alice, bob] = peers

  await Promise.all(peers.map((p) => subscribe(p.channel, p.statuses)))
  // presence_state right after the join gives the first sync (empty state).
  await waitFor('the initial presence sync on both', () => peers.every((p) => p.events.sync >= 1))

  const trackPayload = (p, extra = {}) => ({ user: p.key, online_at: '2026-01-01T00:00:00Z', ...extra })
  for (const p of peers) assert.equal(await p.channel.track(trackPayload(p)), 'ok', `${p.key} track() reply`)

  const hasBoth = (p) => {
    const state = p.channel.presenceState()
    return state.alice?.length === 1 && state.bob?.length === 1
  }
  await waitFor('both presence states to hold alice and bob', () => peers.every(hasBoth))
  for (const p of peers) {
    const state = p.channel.presenceState()
    assert.deepEqual(Object.keys(state).sort(), ['alice', 'bob'], `${p.key} presence keys`)
    for (const q of peers) {
      const [meta] = state[q.key]
      assert.equal(typeof meta.presence_ref, 'string', `${p.key}: ${q.key} presence_ref`)
      assert.ok(meta.presence_ref.length > 0)
      assert.equal(meta.phx_ref, undefined, 'realtime-js renames phx_ref to presence_ref')
      const { presence_ref, ...fields } = meta
      assert.deepEqual(fields, trackPayload(q), `${p.key}: ${q.key}'s tracked fields`)
    }
    const other = p === alice ? bob : alice
    const join = p.events.join.find((j) => j.key === other.key)
    assert.ok(join, `${p.key} saw no join for ${other.key}`)
    assert.equal(join.newPresences.length, 1)
    assert.equal(join.newPresences[0].user, other.key)
    assert.ok(p.events.sync >= 2, `${p.key} saw ${p.events.sync} sync events`)
  }

  // Update: alice tracks again with new fields; bob ends with one presence for alice.
  const aliceRef = bob.channel.presenceState().alice[0].presence_ref
  assert.equal(await alice.channel.track(trackPayload(alice, { status: 'away' })), 'ok')
  await waitFor('bob to see alice\'s updated presence', () => {
    const metas = bob.channel.presenceState().alice
    return metas?.length === 1 && metas[0].status === 'away'
  })
  assert.notEqual(bob.channel.presenceState().alice[0].presence_ref, aliceRef, 'an update gets a new presence_ref')
  const aliceJoins = bob.events.join.filter((j) => j.key === 'alice').length
  assert.ok(aliceJoins >= 2, 'the update shows as a join of the new presence')

  // Untrack: alice sees bob leave.
  const bobRef = alice.channel.presenceState().bob[0].presence_ref
  assert.equal(await bob.channel.untrack(), 'ok', 'untrack() reply')
  const leave = await waitFor('alice to see bob leave (untrack)', () => alice.events.leave.find((l) => l.key === 'bob'))
  assert.equal(leave.leftPresences.length, 1)
  assert.equal(leave.leftPresences[0].presence_ref, bobRef)
  assert.equal(leave.leftPresences[0].user, 'bob')
  await waitFor('bob to be gone from alice\'s state', () => !alice.channel.presenceState().bob)

  // Track again, then bob's socket goes away: alice sees bob leave again.
  assert.equal(await bob.channel.track(trackPayload(bob, { again: true })), 'ok')
  await waitFor('alice to see bob again', () => alice.channel.presenceState().bob?.[0]?.again === true)
  const leavesBefore = alice.events.leave.filter((l) => l.key === 'bob').length
  await bob.client.disconnect()
  await waitFor('alice to see bob leave (disconnect)', () =>
    alice.events.leave.filter((l) => l.key === 'bob').length > leavesBefore && !alice.channel.presenceState().bob)
  assert.deepEqual(Object.keys(alice.channel.presenceState()), ['alice'])

  // bob's own disconnect() makes realtime-js report CHANNEL_ERROR ("socket closed") to
  // bob's callback (phoenix's onConnClose triggers channel errors); alice saw only SUBSCRIBED.
  for (const p of peers) assert.equal(p.statuses[0], 'SUBSCRIBED')
  assert.deepEqual(alice.statuses, ['SUBSCRIBED'], 'alice subscribe statuses')

  return {
    topic,
    vsn: alice.client.vsn,
    events: Object.fromEntries(peers.map((p) => [p.key, {
      sync: p.events.sync,
      joins: p.events.join.map((j) => j.key),
      leaves: p.events.leave.map((l) => l.key),
    }])),
    statuses: Object.fromEntries(peers.map((p) => [p.key, [...p.statuses]])),
  }
})
