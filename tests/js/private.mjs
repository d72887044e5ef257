// Private channels (Realtime Authorization) through realtime-js, as an application uses
// them: `config: { private: true }`, tokens whose claims the policies on realtime.messages
// read (the test makes them), broadcasts from SQL, replay at join, a token refresh that
// revokes, and httpSend on a private channel.
//
//   RT_TOPIC            the channel's name (the policies name it)
//   RT_TOKEN_WRITER     may read and write
//   RT_TOKEN_READER     may read only
//   RT_TOKEN_OUTSIDER   may not read
//   RT_TOKEN_REVOKED    the reader's next token: no longer a member
//   RT_VSN              "2.0.0", "1.0.0" or "default"
//
// Asserts: writer and reader reach SUBSCRIBED, the outsider gets CHANNEL_ERROR with
// Supabase's Unauthorized text; the writer's send is acked and reaches the reader (and
// itself, self); the reader's send gets no reply and reaches nobody; realtime.send and
// broadcast_changes from SQL reach both with meta.id; a late joiner with replay gets the
// newest stored messages first, flagged replayed; the reader's setAuth with the revoked
// token closes its channel with the system error; httpSend is 202 for the writer and
// refused (403 Unauthorized) for the reader.
import { assert, env, makeClient, runScenario, step, subscribe, waitFor } from './harness.mjs'

function expectChannelError(channel) {
  return new Promise((resolve, reject) => {
    channel.subscribe((status, err) => {
      if (status === 'CHANNEL_ERROR') resolve(err ? err.message : '')
      else if (status !== 'CLOSED') reject(new Error(`${channel.topic}: expected CHANNEL_ERROR, got ${status}`))
    })
  })
}

function member(name, token, vsn, topic, config = {}) {
  const entry = makeClient(name, { vsn, token })
  const channel = entry.client.channel(topic, { config: { private: true, ...config } })
  const got = []
  const system = []
  channel.on('broadcast', { event: '*' }, (msg) => got.push(msg))
  channel.on('system', {}, (msg) => system.push(msg))
  return { ...entry, channel, got, system, statuses: [] }
}

runScenario('private', async () => {
  const vsnEnv = env('RT_VSN', 'default')
  const vsn = vsnEnv === 'default' ? undefined : vsnEnv
  const topic = env('RT_TOPIC')

  const writer = member('writer', env('RT_TOKEN_WRITER'), vsn, topic, { broadcast: { self: true, ack: true } })
  const reader = member('reader', env('RT_TOKEN_READER'), vsn, topic, { broadcast: { ack: true } })
  await Promise.all([subscribe(writer.channel, writer.statuses), subscribe(reader.channel, reader.statuses)])

  const outsider = member('outsider', env('RT_TOKEN_OUTSIDER'), vsn, topic)
  const refused = await expectChannelError(outsider.channel)
  assert.equal(refused, `Unauthorized: You do not have permissions to read from this Channel topic: ${topic}`)

  assert.equal(await writer.channel.send({ type: 'broadcast', event: 'hello', payload: { n: 1 } }), 'ok')
  await waitFor('the reader to get the writer\'s message', () => reader.got.find((m) => m.event === 'hello'))
  await waitFor('the writer to get its own message', () => writer.got.find((m) => m.event === 'hello'))
  const denied = await reader.channel.send({ type: 'broadcast', event: 'sneaky', payload: {} }, { timeout: 1500 })
  assert.equal(denied, 'timed out', 'a refused send gets no reply')

  await step('sql', {
    sql: [
      `SELECT realtime.send('{"n": 2}'::jsonb, 'from-sql', '${topic}')`,
      `INSERT INTO public.js_notes VALUES (1, 'v1')`,
    ],
  })
  for (const p of [writer, reader]) {
    const sent = await waitFor(`${p.name} to get the SQL message`, () => p.got.find((m) => m.event === 'from-sql'))
    assert.ok(sent.meta && sent.meta.id, `meta.id of ${JSON.stringify(sent)}`)
    const change = await waitFor(`${p.name} to get the trigger's`, () => p.got.find((m) => m.event === 'INSERT'))
    assert.deepEqual(change.payload.record, { id: 1, body: 'v1' })
    assert.equal(change.payload.operation, 'INSERT')
  }
  assert.ok(!writer.got.find((m) => m.event === 'sneaky'), 'the reader\'s refused send reached the writer')

  const late = member('late', env('RT_TOKEN_READER'), vsn, topic, { broadcast: { replay: { since: 0, limit: 2 } } })
  await subscribe(late.channel, late.statuses)
  await waitFor('the replayed messages', () => late.got.length >= 2)
  const replayed = late.got.map((m) => m.event)
  for (const m of late.got) assert.equal(m.meta.replayed, true)

  const ok = await writer.channel.httpSend('rest', { n: 3 })
  assert.deepEqual(ok, { success: true })
  await waitFor('the REST message', () => reader.got.find((m) => m.event === 'rest'))
  const live = await waitFor('the REST message, live after the replay', () => late.got.find((m) => m.event === 'rest'))
  assert.ok(!(live.meta && live.meta.replayed), 'a live message flagged replayed')
  // realtime-js rejects any answer but 202 with the body's message (ours: 403 Unauthorized).
  const forbidden = await reader.channel.httpSend('rest', { n: 4 }).then(() => 'sent', (e) => e.message)
  assert.equal(forbidden, 'Unauthorized')

  await reader.client.setAuth(env('RT_TOKEN_REVOKED'))
  const shutdown = await waitFor('the revoked reader to be told', () => reader.system.find((m) => m.status === 'error'))
  assert.equal(shutdown.message, `You do not have permissions to read from this Channel topic: ${topic}`)
  await waitFor('the revoked reader\'s channel to close', () => reader.channel.state === 'closed')

  return {
    vsn: writer.client.vsn,
    // copies: closing the clients at the end adds CLOSED to the live arrays
    statuses: { writer: [...writer.statuses], reader: [...reader.statuses] },
    refused,
    replayed,
  }
})
