// Resuming through realtime-js, unchanged (issue 15): the socket drops under a stream of
// inserts, realtime-js reconnects and rejoins by itself, and the relay hands it back its
// parked subscription with what it missed.
//
//   RT_TABLE  the table the driver inserts into (rows n = 0, 1, 2, ...), default "items"
//   RT_REFRESHED_TOKEN  if set, given to setAuth while the socket is down (a token
//             refreshed on wake: another exp and iat, the same other claims); the rejoin
//             carries it, and must resume all the same
//
// Steps: "start" (the driver starts inserting), "cut" (it drops the connection through
// its proxy), "restore" (it waits 5 s and lets connections through again), "stop" (it
// stops inserting and inserts a last row n = -1 once the channel is back). Asserts: SUBSCRIBED, then
// after the drop SUBSCRIBED again with the same subscription id; the callback got every
// row n = 0 .. k-1 exactly once and in order, then -1; the rows realtime-js got after
// the rejoin start with the recovered ones ("recovered": true next to "ids" on the wire,
// which realtime-js ignores); no system error.
import { assert, env, makeClient, runScenario, step, subscribe, uniqueTopic, waitFor } from './harness.mjs'

const TABLE = env('RT_TABLE', 'items')
const REFRESHED = process.env.RT_REFRESHED_TOKEN

runScenario('resume', async () => {
  const { client, messages } = makeClient('resumer')
  const topic = uniqueTopic('resume')
  const got = []
  const statuses = []
  const channel = client
    .channel(topic)
    .on('postgres_changes', { event: 'INSERT', schema: 'public', table: TABLE }, (p) => got.push(p.new.n))
  await subscribe(channel, statuses)
  const idsOf = () =>
    messages
      .filter((m) => m.event === 'phx_reply' && m.payload?.response?.postgres_changes)
      .map((m) => m.payload.response.postgres_changes[0].id)
  const firstId = idsOf()[0]
  assert.ok(firstId, 'the join reply carries a subscription id')

  await step('start')
  await waitFor('rows before the drop', () => got.length >= 100, 20000)
  await step('cut')
  await waitFor('the socket to close', () => !client.isConnected(), 15000)
  // Counted once the old socket is closed: a live row it delivered between the cut and
  // the close is not one of the rejoined socket's (which must start with the recovered).
  const beforeDrop = messages.length
  if (REFRESHED) await client.setAuth(REFRESHED)
  await step('restore')
  await waitFor('realtime-js to rejoin', () => statuses.filter((s) => s === 'SUBSCRIBED').length >= 2, 40000)
  assert.deepEqual(idsOf(), [firstId, firstId], 'the rejoin adopted the parked subscription')
  await step('stop')
  await waitFor('the last row', () => got.includes(-1), 30000)

  const rows = got.slice(0, -1)
  assert.equal(got[got.length - 1], -1)
  const firstBreak = rows.findIndex((n, i) => n !== i)
  assert.equal(firstBreak, -1, `every row once and in order (first break at ${firstBreak}: ${rows.slice(firstBreak - 2, firstBreak + 3)})`)
  const after = messages.slice(beforeDrop).filter((m) => m.event === 'postgres_changes')
  const flags = after.map((m) => m.payload.recovered === true)
  const recovered = flags.filter(Boolean).length
  assert.ok(recovered > 0, 'some rows were recovered')
  assert.ok(flags.slice(0, recovered).every(Boolean), 'the recovered rows come first')
  const errors = messages.filter((m) => m.event === 'system' && m.payload?.status === 'error')
  assert.deepEqual(errors, [], 'no system error')
  return { rows: rows.length, recovered, statuses }
})
