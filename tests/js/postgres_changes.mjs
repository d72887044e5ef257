// postgres_changes through realtime-js: typed `new` and `old` records, filters, bindings.
//
//   RT_VSN   protocol ("2.0.0", "1.0.0" or "default"), default "default"
//   RT_ROLE  the JWT's role (the driver creates it and grants it SELECT), default "authenticated"
//
// The scenario asks the driver to run its SQL (steps "setup" and "changes"). The table has
// int8, int4, bool, numeric, timestamptz, jsonb, text[] and text columns and REPLICA IDENTITY
// FULL. One channel carries three bindings:
//   all   event *       filter owner_id=eq.1
//   ins   event INSERT  filter owner_id=eq.1
//   del   event DELETE  no filter
// Asserts: SUBSCRIBED (and nothing else); the join reply gave every binding an id; the
// `system` "Subscribed to PostgreSQL" message; `all` gets exactly INSERT, UPDATE, DELETE of
// the owner 1 row in commit order, with new/old converted by realtime-js to JS types
// (numbers, booleans, objects, arrays, null, timestamp strings), `old` {} for INSERT and
// `new` {} for DELETE, the full old row on UPDATE and DELETE; `ins` gets the INSERT only;
// `del` gets both DELETEs (owner 1 and owner 2); no owner 2 change reaches a filtered
// binding; the raw `columns` carry realtime-js's type names.
import { assert, env, makeClient, runScenario, step, subscribe, waitFor } from './harness.mjs'

const SCHEMA = 'public'
const TABLE = 'rt_js_types'

const SETUP = [
  `CREATE TABLE ${SCHEMA}.${TABLE} (
     id int8 PRIMARY KEY, owner_id int4 NOT NULL, flag bool, amount numeric(12,3),
     created_at timestamptz, doc jsonb, tags text[], note text)`,
  `ALTER TABLE ${SCHEMA}.${TABLE} REPLICA IDENTITY FULL`,
]

// One statement per transaction, matching and non-matching rows interleaved; the owner 1
// DELETE comes last, so once it has arrived every earlier change has too (commit order).
const CHANGES = [
  `INSERT INTO ${SCHEMA}.${TABLE} VALUES (2001, 2, false, 1.5, '2026-01-02 03:04:05+00', '{"other":true}', '{x}', 'not mine')`,
  `INSERT INTO ${SCHEMA}.${TABLE} VALUES (1001, 1, true, 12.345, '2026-03-04 05:06:07.089+00',
     '{"a":1,"b":[true,null,"x"],"c":{"d":"é"}}', ARRAY['red','green','blue'], 'hello')`,
  `UPDATE ${SCHEMA}.${TABLE} SET flag = false, amount = -0.5, created_at = '2026-03-04 05:06:08+00',
     doc = '{"a":2}', tags = ARRAY['solo'], note = NULL WHERE id = 1001`,
  `UPDATE ${SCHEMA}.${TABLE} SET note = 'still not mine' WHERE id = 2001`,
  `DELETE FROM ${SCHEMA}.${TABLE} WHERE id = 2001`,
  `DELETE FROM ${SCHEMA}.${TABLE} WHERE id = 1001`,
]

const ROW_INSERTED = {
  id: 1001,
  owner_id: 1,
  flag: true,
  amount: 12.345,
  created_at: Date.UTC(2026, 2, 4, 5, 6, 7, 89),
  doc: { a: 1, b: [true, null, 'x'], c: { d: 'é' } },
  tags: ['red', 'green', 'blue'],
  note: 'hello',
}
const ROW_UPDATED = {
  ...ROW_INSERTED,
  flag: false,
  amount: -0.5,
  created_at: Date.UTC(2026, 2, 4, 5, 6, 8),
  doc: { a: 2 },
  tags: ['solo'],
  note: null,
}

const EXPECTED_COLUMN_TYPES = {
  id: 'int8', owner_id: 'int4', flag: 'bool', amount: 'numeric', created_at: 'timestamptz',
  doc: 'jsonb', tags: '_text', note: 'text',
}

// Checks a converted record against the expected JS values; timestamps stay strings in
// realtime-js (it leaves timestamptz as the server sent it), so they are compared as dates.
function assertRecord(actual, expected, what) {
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), `${what}: columns`)
  const { created_at: ts, ...rest } = actual
  const { created_at: expectedTs, ...expectedRest } = expected
  assert.equal(typeof ts, 'string', `${what}: created_at is a string`)
  assert.equal(Date.parse(ts), expectedTs, `${what}: created_at ${ts}`)
  for (const [k, v] of Object.entries(expectedRest)) {
    if (v === null) assert.equal(rest[k], null, `${what}: ${k} is null`)
    else if (Array.isArray(v)) assert.ok(Array.isArray(rest[k]), `${what}: ${k} is an array, got ${JSON.stringify(rest[k])}`)
    else assert.equal(typeof rest[k], typeof v, `${what}: ${k} is a ${typeof v}, got ${JSON.stringify(rest[k])}`)
  }
  assert.deepEqual(rest, expectedRest, what)
}

runScenario('postgres_changes', async () => {
  const vsnEnv = env('RT_VSN', 'default')
  const vsn = vsnEnv === 'default' ? undefined : vsnEnv
  await step('setup', { sql: SETUP })

  const entry = makeClient('pg', { vsn })
  const channel = entry.client.channel(`db-${process.pid}`)
  const got = { all: [], ins: [], del: [] }
  const system = []
  const filter = 'owner_id=eq.1'
  channel
    .on('postgres_changes', { event: '*', schema: SCHEMA, table: TABLE, filter }, (p) => got.all.push(p))
    .on('postgres_changes', { event: 'INSERT', schema: SCHEMA, table: TABLE, filter }, (p) => got.ins.push(p))
    .on('postgres_changes', { event: 'DELETE', schema: SCHEMA, table: TABLE }, (p) => got.del.push(p))
    .on('system', {}, (p) => system.push(p))

  const statuses = []
  await subscribe(channel, statuses)
  const bindingIds = channel.bindings.postgres_changes.map((b) => b.id)
  assert.equal(bindingIds.length, 3)
  for (const id of bindingIds) assert.ok(id !== undefined && id !== null, `binding ids from the join reply: ${bindingIds}`)
  assert.equal(new Set(bindingIds).size, 3, 'distinct binding ids')

  const subscribed = await waitFor('the system "Subscribed to PostgreSQL" message',
    () => system.find((s) => s.extension === 'postgres_changes'))
  assert.equal(subscribed.status, 'ok', JSON.stringify(subscribed))
  assert.equal(subscribed.message, 'Subscribed to PostgreSQL')

  await step('changes', { sql: CHANGES })
  await waitFor('the owner 1 DELETE on the * binding', () => got.all.some((p) => p.eventType === 'DELETE'))
  await waitFor('both DELETEs on the DELETE binding', () => got.del.length >= 2)

  // `all`: exactly the three owner 1 changes, in order.
  assert.deepEqual(got.all.map((p) => p.eventType), ['INSERT', 'UPDATE', 'DELETE'],
    'the filtered * binding gets exactly the owner 1 changes')
  for (const p of got.all) {
    assert.equal(p.schema, SCHEMA)
    assert.equal(p.table, TABLE)
    assert.equal(p.errors, null)
    assert.equal(typeof p.commit_timestamp, 'string')
    assert.ok(Math.abs(Date.parse(p.commit_timestamp) - Date.now()) < 10 * 60 * 1000,
      `commit_timestamp ${p.commit_timestamp}`)
  }
  const [ins, upd, del] = got.all
  assertRecord(ins.new, ROW_INSERTED, 'INSERT new')
  assert.deepEqual(ins.old, {}, 'INSERT old')
  assertRecord(upd.new, ROW_UPDATED, 'UPDATE new')
  assertRecord(upd.old, ROW_INSERTED, 'UPDATE old (replica identity full)')
  assert.deepEqual(del.new, {}, 'DELETE new')
  assertRecord(del.old, ROW_UPDATED, 'DELETE old (replica identity full)')

  // `ins`: the INSERT only.
  assert.deepEqual(got.ins.map((p) => [p.eventType, p.new.id]), [['INSERT', 1001]])
  // `del`: both deletes, unfiltered, in commit order.
  assert.deepEqual(got.del.map((p) => [p.eventType, p.old.id]), [['DELETE', 2001], ['DELETE', 1001]])
  assert.equal(got.del[0].old.owner_id, 2)
  assert.equal(got.del[0].old.note, 'still not mine')

  // Nothing of owner 2 on the filtered bindings.
  for (const p of [...got.all, ...got.ins]) {
    assert.notEqual((p.new.owner_id ?? p.old.owner_id), 2, 'an owner 2 change reached a filtered binding')
  }

  // The raw pushes: ids and column type names as realtime-js expects them.
  const raw = entry.messages.filter((m) => m.event === 'postgres_changes')
  assert.ok(raw.length >= 4)
  const columns = Object.fromEntries(raw[0].payload.data.columns.map((c) => [c.name, c.type]))
  assert.deepEqual(columns, EXPECTED_COLUMN_TYPES, 'columns[].type')
  for (const m of raw) {
    assert.ok(Array.isArray(m.payload.ids) && m.payload.ids.length > 0)
    for (const id of m.payload.ids) assert.ok(bindingIds.includes(id), `push id ${id} not one of ${bindingIds}`)
  }

  assert.deepEqual(statuses, ['SUBSCRIBED'])
  return {
    vsn: entry.client.vsn,
    binding_ids: bindingIds,
    system: subscribed,
    received: { all: got.all.length, ins: got.ins.length, del: got.del.length },
    raw_pushes: raw.length,
    insert_new: ins.new,
    update_old: upd.old,
    delete_old: del.old,
    statuses: [...statuses],
  }
})
