// Values through realtime-js: for every column type, realtime-js turns the relay's
// postgres_changes record into the very JS values it makes of Supabase's record for
// the same row (it converts by column type: numbers from strings, JSON text, array
// text), compared with assert.deepStrictEqual (so -0 is not 0, 1 is not "1").
//
//   RT_TABLE     the table to subscribe to (schema public)
//   RT_INSERTS   JSON list of the statements that insert its rows (the step "changes")
//   RT_EXPECTED  JSON {id: record}: Supabase's records for those rows
// The summary gives the rows and columns compared.
import transformers from '@supabase/realtime-js/dist/main/lib/transformers.js'
import { assert, env, makeClient, runScenario, step, subscribe, waitFor } from './harness.mjs'

runScenario('values', async () => {
  const table = env('RT_TABLE')
  const expected = JSON.parse(env('RT_EXPECTED'))
  const entry = makeClient('values', {})
  const channel = entry.client.channel(`values-${process.pid}`)
  const got = []
  const system = []
  channel
    .on('postgres_changes', { event: 'INSERT', schema: 'public', table }, (p) => got.push(p))
    .on('system', {}, (p) => system.push(p))
  await subscribe(channel)
  await waitFor('the system "Subscribed to PostgreSQL" message',
    () => system.find((s) => s.extension === 'postgres_changes'))

  await step('changes', { sql: JSON.parse(env('RT_INSERTS')) })
  await waitFor('every row', () => got.length >= Object.keys(expected).length)

  // The callback's payload drops `columns`; the raw pushes have them (and our raw record).
  const raw = new Map(entry.messages.filter((m) => m.event === 'postgres_changes')
    .map((m) => [m.payload.data.record.id, m.payload.data]))
  const mismatches = []
  let compared = 0
  for (const change of got) {
    const { columns, record } = raw.get(change.new.id)
    const theirs = transformers.convertChangeData(columns, expected[change.new.id])
    assert.deepStrictEqual(Object.keys(change.new).sort(), Object.keys(theirs).sort(),
      `row ${change.new.id}: columns`)
    for (const [column, value] of Object.entries(theirs)) {
      try {
        assert.deepStrictEqual(change.new[column], value)
        compared += 1
      } catch {
        mismatches.push(`row ${change.new.id} ${column}: ours ${JSON.stringify(change.new[column])}` +
          ` (raw ${JSON.stringify(record[column])}), Supabase's ${JSON.stringify(value)}`)
      }
    }
  }
  assert.deepEqual(mismatches, [], mismatches.join('\n'))
  return { rows: got.length, ids: got.map((c) => c.new.id), values_compared: compared }
})
