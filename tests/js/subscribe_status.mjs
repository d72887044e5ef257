// The channel lifecycle as realtime-js reports it: SUBSCRIBED, errors, heartbeats, token
// refresh, leave and rejoin.
//
//   RT_VSN      protocol ("2.0.0", "1.0.0" or "default"), default "default"
//   RT_TOKEN_2  a second valid token for the same role (the refreshed token)
//
// Asserts:
// - a channel with broadcast (self, ack), presence and a postgres_changes binding (with
//   realtime-js's postgres_changes_options.wait) reaches SUBSCRIBED, and its subscribe
//   callback never sees CHANNEL_ERROR, TIMED_OUT or CLOSED while it is joined;
// - a row inserted right after SUBSCRIBED (without waiting for the "Subscribed to
//   PostgreSQL" system message) is delivered;
// - heartbeats get "ok" replies (heartbeatCallback), several in a row;
// - tokens come from an accessToken callback, as supabase-js sets it up: when the callback
//   starts returning a new token realtime-js pushes access_token (on its next heartbeat);
//   the channel stays joined and working;
// - join errors reach the callback as CHANNEL_ERROR with the server's reason (a private
//   channel, Unauthorized); a binding on a table that does not exist joins and gets a
//   `system` error naming the table, as on Supabase;
// - removeChannel() gets "ok" (phx_leave reply) and the callback CLOSED; the same topic
//   then joins again on the same socket.
import { assert, env, makeClient, runScenario, sleep, step, subscribe, waitFor } from './harness.mjs'

const TABLE = 'rt_js_status'

// subscribe() expecting a CHANNEL_ERROR; resolves with its message.
function expectChannelError(channel) {
  return new Promise((resolve, reject) => {
    channel.subscribe((status, err) => {
      if (status === 'CHANNEL_ERROR') resolve(err ? err.message : '')
      else if (status !== 'CLOSED') reject(new Error(`${channel.topic}: expected CHANNEL_ERROR, got ${status}`))
    })
  })
}

runScenario('subscribe_status', async () => {
  const vsnEnv = env('RT_VSN', 'default')
  const vsn = vsnEnv === 'default' ? undefined : vsnEnv
  await step('setup', {
    sql: [`CREATE TABLE public.${TABLE} (id int8 PRIMARY KEY, body text)`],
  })

  let currentToken = env('RT_TOKEN')
  const entry = makeClient('status', { vsn, heartbeatIntervalMs: 300, accessToken: async () => currentToken })
  const { client } = entry
  const topic = `status-${process.pid}`
  const channel = client.channel(topic, {
    config: {
      broadcast: { self: true, ack: true },
      presence: { key: 'me' },
      postgres_changes_options: { wait: true },
    },
  })
  const got = { changes: [], broadcasts: [], syncs: 0 }
  channel
    .on('postgres_changes', { event: 'INSERT', schema: 'public', table: TABLE }, (p) => got.changes.push(p))
    .on('broadcast', { event: 'ping' }, (m) => got.broadcasts.push(m))
    .on('presence', { event: 'sync' }, () => { got.syncs += 1 })

  const statuses = []
  const t0 = Date.now()
  await subscribe(channel, statuses)
  const subscribedMs = Date.now() - t0
  assert.equal(channel.state, 'joined')
  assert.equal(client.isConnected(), true)
  assert.equal(client.connectionState(), 'open')

  // Straight after SUBSCRIBED: a committed row must arrive.
  await step('insert', { sql: [`INSERT INTO public.${TABLE} VALUES (1, 'right after SUBSCRIBED')`] })
  const change = await waitFor('the row inserted right after SUBSCRIBED', () => got.changes[0])
  assert.deepEqual(change.new, { id: 1, body: 'right after SUBSCRIBED' })

  // Heartbeats answered.
  await waitFor('three heartbeat replies', () => entry.heartbeats.filter((h) => h === 'ok').length >= 3)
  assert.ok(!entry.heartbeats.some((h) => h === 'error' || h === 'timeout'), `heartbeats: ${entry.heartbeats}`)

  // Token refresh: access_token pushed on the joined channel; the channel keeps working.
  // (realtime-js fetches the first token asynchronously, after the join payload was built,
  // and does not push it while it equals the socket's apikey, so the first token is only
  // the apikey here; a changed token is pushed.)
  const pushedToken = (token) => entry.trace.some((l) => l.startsWith('push:') && l.includes(' access_token ') && l.includes(token))
  assert.ok(!pushedToken(env('RT_TOKEN_2')))
  currentToken = env('RT_TOKEN_2')
  await waitFor('realtime-js to push the refreshed access_token', () => pushedToken(currentToken), 5000)
  assert.equal(await channel.send({ type: 'broadcast', event: 'ping', payload: { n: 1 } }), 'ok', 'ack after setAuth')
  await waitFor('own broadcast after setAuth (self: true)', () => got.broadcasts.length >= 1)
  assert.equal(await channel.track({ here: true }), 'ok')
  await waitFor('presence sync with own presence', () => channel.presenceState().me?.length === 1)
  await sleep(500) // a few heartbeats later the channel is still joined, with no new status
  assert.equal(channel.state, 'joined')
  assert.deepEqual(statuses, ['SUBSCRIBED'], 'subscribe callback statuses while joined')

  // Join errors surface as CHANNEL_ERROR with the server's reason.
  const priv = client.channel(`private-${process.pid}`, { config: { private: true } })
  const privateError = await expectChannelError(priv)
  assert.match(privateError, /Unauthorized/, `private join error: ${privateError}`)
  await client.removeChannel(priv)

  // A binding that cannot be subscribed: the channel joins (SUBSCRIBED), as on Supabase,
  // and a `system` error names the binding's problem.
  const bad = client.channel(`bad-${process.pid}`)
  const badSystem = []
  bad.on('postgres_changes', { event: '*', schema: 'public', table: 'no_such_table' }, () => {})
    .on('system', {}, (payload) => badSystem.push(payload))
  await subscribe(bad, [])
  await waitFor('the bad binding\'s system error', () => badSystem.some((p) => p.status === 'error'))
  const badError = badSystem.find((p) => p.status === 'error').message
  assert.match(badError, /no_such_table/, `bad binding error: ${badError}`)
  await client.removeChannel(bad)

  // Leave, then join the same topic again on the same socket.
  assert.equal(await client.removeChannel(channel), 'ok', 'removeChannel (phx_leave reply)')
  assert.deepEqual(statuses, ['SUBSCRIBED', 'CLOSED'])
  const again = client.channel(topic, { config: { broadcast: { self: true, ack: true } } })
  const againStatuses = []
  await subscribe(again, againStatuses)
  assert.equal(await again.send({ type: 'broadcast', event: 'ping', payload: { n: 2 } }), 'ok')
  assert.equal(client.isConnected(), true, 'the socket stayed up throughout')

  return {
    vsn: client.vsn,
    subscribed_ms: subscribedMs,
    heartbeats: entry.heartbeats.filter((h) => h === 'ok').length,
    access_token_refreshed: pushedToken(env('RT_TOKEN_2')),
    private_error: privateError,
    bad_binding_error: badError,
    statuses: [...statuses],
    rejoin_statuses: [...againStatuses],
  }
})
