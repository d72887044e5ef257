// Supabase's end-to-end suite (test/e2e/realtime-check.ts, functional suites), run with
// @supabase/realtime-js against our relay: what supabase-js applications see. Our own code;
// the row writes supabase-js makes through PostgREST are SQL steps run by the driver.
//
//   RT_TOKEN   an `authenticated` token (the tables are granted to that role)
//   RT_GROUPS  the groups of checks to run, comma-separated (default: all)
//
// Each check is recorded in the summary's `checks` as "ok" or its failure, so one broken
// feature does not hide the others; test_realtime_js.py asserts every one is "ok".
//   broadcast:    self receive (exact payload); httpSend() from a channel that is not
//                 joined reaches a joined one.
//   presence:     track() is "ok"; the join event has the configured key and the tracked
//                 fields in newPresences[0].
//   changes:      INSERT with value=eq.<uuid> (and a row in another table that must not
//                 arrive), UPDATE and DELETE with id=eq.<id>, and the three at once on one
//                 channel; eventType, new and old as supabase-js exposes them.
//   changes-rls:  the same on a table with row level security and an allow-all policy
//                 for `authenticated`, as the e2e suite's pg_changes table is.
//   filters:      postgresChangesFilter() operators and compositions of the e2e
//                 "postgres-changes-filters" suite, each with rows that must and must not
//                 arrive, including values realtime-js quotes (a comma, a space, a quote).
//   select:       select: ["id", "value"] gives new with exactly those keys; without
//                 select every column.
import { assert, env, makeClient, postgresChangesFilter as f, runScenario, sleep, step, subscribe, uniqueTopic, waitFor }
  from '../js/harness.mjs'

const EVENT_MS = 8000
const checks = {}
const groups = new Set(env('RT_GROUPS', 'broadcast,presence,changes,changes-rls,filters,select').split(','))

async function check(name, body) {
  if (!groups.has(name.split(':')[0])) return
  try {
    await body()
    checks[name] = 'ok'
  } catch (err) {
    checks[name] = String(err && err.message ? err.message : err)
  }
}

const sqlText = (v) => (v === null ? 'NULL' : `'${String(v).replace(/'/g, "''")}'`)

async function insertRows(table, rows) {
  const cols = Object.keys(rows[0])
  const values = rows.map((r) => `(${cols.map((c) => sqlText(r[c] ?? null)).join(', ')})`).join(', ')
  await step(`insert-${table}-${Math.random().toString(36).slice(2, 8)}`, {
    sql: [`INSERT INTO public.${table} (${cols.join(', ')}) VALUES ${values}`],
  })
}

// A channel with postgres_changes bindings, subscribed and confirmed by "Subscribed to
// PostgreSQL" (the e2e suite's openPostgresChannel), collecting payloads per binding.
async function changesChannel(client, bindings) {
  const channel = client.channel(uniqueTopic('e2e-pg'))
  const got = bindings.map(() => [])
  bindings.forEach((b, i) => channel.on('postgres_changes', b, (p) => got[i].push(p)))
  let systemOk = false
  channel.on('system', '*', ({ status }) => { if (status === 'ok') systemOk = true })
  await subscribe(channel)
  await waitFor('system ok (Subscribed to PostgreSQL)', () => systemOk, EVENT_MS)
  return { channel, got }
}

// e2e "user receives INSERT/UPDATE/DELETE events with filter" and "... concurrently", on
// one channel with the three bindings.
async function insertUpdateDelete(client, table, tag) {
  await step(`rows-${table}`, { sql: [`INSERT INTO ${table} (id, value) VALUES (1001, 'main'), (1002, 'fake')`,
                                      `INSERT INTO dummy (id, value) VALUES (1001, 'dummy')`] })
  const value = `ins-${tag}`
  const { channel, got } = await changesChannel(client, [
    { event: 'INSERT', schema: 'public', table, filter: `value=eq.${value}` },
    { event: 'UPDATE', schema: 'public', table, filter: 'id=eq.1001' },
    { event: 'DELETE', schema: 'public', table, filter: 'id=eq.1002' },
  ])
  await step(`changes-${table}`, { sql: [
    `INSERT INTO ${table} (id, value) VALUES (1003, '${value}')`, `INSERT INTO dummy (id, value) VALUES (1003, '${value}')`,
    `UPDATE ${table} SET value = 'updated' WHERE id IN (1001, 1002)`, `UPDATE dummy SET value = 'x'`,
    `DELETE FROM ${table} WHERE id IN (1002, 1001)`, `DELETE FROM dummy`] })
  await waitFor('INSERT, UPDATE and DELETE', () => got.every((g) => g.length >= 1), EVENT_MS)
  await sleep(500)
  const [[ins], [upd], [del]] = got
  assert.deepEqual(got.map((g) => g.length), [1, 1, 1], 'one event per binding')
  assert.equal(ins.eventType, 'INSERT')
  assert.equal(ins.new.value, value)
  assert.equal(ins.table, table)
  assert.equal(upd.eventType, 'UPDATE')
  assert.equal(upd.new.id, 1001)
  assert.equal(upd.old.value, 'main', 'old record (REPLICA IDENTITY FULL)')
  assert.equal(del.eventType, 'DELETE')
  assert.equal(del.old.id, 1002)
  assert.deepEqual(del.new, {})
  await client.removeChannel(channel)
}

runScenario('e2e_check', async () => {
  const tag = Math.random().toString(36).slice(2, 10)
  const main = makeClient('main', {})
  const { client } = main

  await check('broadcast: self receive', async () => {
    const channel = client.channel(uniqueTopic('e2e-b'), { config: { broadcast: { self: true } } })
    let result = null
    channel.on('broadcast', { event: 'ev' }, ({ payload }) => { result = payload })
    await subscribe(channel)
    const expected = { message: `m-${tag}` }
    await channel.send({ type: 'broadcast', event: 'ev', payload: expected })
    await waitFor('own broadcast', () => result, EVENT_MS)
    assert.deepEqual(result, expected)
    await client.removeChannel(channel)
  })

  await check('broadcast: httpSend endpoint', async () => {
    const topic = uniqueTopic('e2e-http')
    const channel = client.channel(topic, { config: { broadcast: { self: true } } })
    let result = null
    channel.on('broadcast', { event: 'ev' }, ({ payload }) => { result = payload })
    await subscribe(channel)
    const expected = { message: `h-${tag}` }
    const sender = makeClient('http-sender', {}).client.channel(topic, { config: { broadcast: { self: true } } })
    assert.deepEqual(await sender.httpSend('ev', expected), { success: true })
    await waitFor('broadcast from httpSend', () => result, EVENT_MS)
    assert.deepEqual(result, expected)
    await client.removeChannel(channel)
  })

  await check('presence: join event', async () => {
    const key = `key-${tag}`
    const channel = client.channel(uniqueTopic('e2e-p'), { config: { broadcast: { self: true }, presence: { key } } })
    let join = null
    channel.on('presence', { event: 'join' }, (e) => { join = e })
    await subscribe(channel)
    assert.equal(await channel.track({ message: `p-${tag}` }), 'ok')
    await waitFor('presence join', () => join, EVENT_MS)
    assert.equal(join.key, key)
    assert.equal(join.newPresences[0].message, `p-${tag}`)
    await client.removeChannel(channel)
  })

  for (const [group, table] of [['changes', 'pg_changes'], ['changes-rls', 'pg_changes_rls']]) {
    await check(`${group}: INSERT, UPDATE, DELETE with filters`, () => insertUpdateDelete(client, table, tag))
  }

  // [name, filter, rows to insert ({value, details, nullable_value}), values that must arrive]
  const t = tag
  const cases = [
    ['eq', f().eq('value', `eq_${t}`), [{ value: `eq_${t}` }, { value: `ne_${t}` }], [`eq_${t}`]],
    ['neq', f().neq('value', `no_${t}`), [{ value: `neq_${t}` }, { value: `no_${t}` }], [`neq_${t}`]],
    ['lt', f().lt('value', `b_${t}`), [{ value: `a_${t}` }, { value: `c_${t}` }], [`a_${t}`]],
    ['lte', f().lte('value', `b_${t}`), [{ value: `b_${t}` }, { value: `c_${t}` }], [`b_${t}`]],
    ['gt', f().gt('value', `b_${t}`), [{ value: `c_${t}` }, { value: `a_${t}` }], [`c_${t}`]],
    ['gte', f().gte('value', `b_${t}`), [{ value: `b_${t}` }, { value: `a_${t}` }], [`b_${t}`]],
    ['in', f().in('value', [`in_${t}`, `other_${t}`]), [{ value: `in_${t}` }, { value: `out_${t}` }], [`in_${t}`]],
    ['like', f().like('value', `${t}%`), [{ value: `${t}hello` }, { value: `x${t}` }], [`${t}hello`]],
    ['ilike', f().ilike('value', `${t}hello%`), [{ value: `${t}HELLO` }, { value: `${t}WORLD` }], [`${t}HELLO`]],
    ['is null', f().is('nullable_value', null),
      [{ value: `is_${t}` }, { value: `is_${t}x`, nullable_value: 'set' }], [`is_${t}`]],
    ['match', f().match('value', `^${t}abc`), [{ value: `${t}abc123` }, { value: `x${t}abc` }], [`${t}abc123`]],
    ['imatch', f().imatch('value', `^${t}abc`), [{ value: `${t}ABC` }, { value: `${t}XYZ` }], [`${t}ABC`]],
    ['isdistinct', f().isDistinct('value', `other_${t}`),
      [{ value: `isd_${t}` }, { value: `other_${t}` }], [`isd_${t}`]],
    ['and', f().like('value', `${t}%`).eq('details', `${t}keep`),
      [{ value: `${t}both`, details: `${t}keep` }, { value: `${t}one`, details: `${t}nope` }], [`${t}both`]],
    ['not', f().not('value', 'eq', `${t}skip`), [{ value: `${t}keep` }, { value: `${t}skip` }], [`${t}keep`]],
    ['not.like + is.null', f().like('value', `c${t}%`).not('details', 'like', 'skip%').is('nullable_value', null),
      [{ value: `c${t}ok`, details: 'keep' }, { value: `c${t}ok2`, details: 'skipme' }], [`c${t}ok`]],
    ['range', f().gte('value', `${t}_b`).lte('value', `${t}_d`),
      [{ value: `${t}_c` }, { value: `${t}_a` }, { value: `${t}_e` }], [`${t}_c`]],
    ['in + like', f().in('value', [`in2_${t}`, `o_${t}`]).like('details', 'keep%'),
      [{ value: `in2_${t}`, details: `keep_${t}` }, { value: `in2_${t}`, details: `drop_${t}` }], [`in2_${t}`]],
    ['is.not.null + ilike', f().not('nullable_value', 'is', null).ilike('value', `n${t}hello%`),
      [{ value: `n${t}HELLO`, nullable_value: 's' }, { value: `n${t}HELLO2` }, { value: `n${t}WORLD`, nullable_value: 's' }],
      [`n${t}HELLO`]],
    ['quoted values', f().in('value', [`q,${t}`, ` q${t}`]).neq('details', 'a"b'),
      [{ value: `q,${t}`, details: 'x' }, { value: ` q${t}`, details: 'a"b' }, { value: `q${t}` }], [`q,${t}`]],
  ]
  const channels = []
  for (const [name, filter] of groups.has('filters') ? cases : []) {
    try {
      channels.push(await changesChannel(client, [{ event: 'INSERT', schema: 'public', table: 'pg_changes', filter: filter.build() }]))
    } catch (err) {
      channels.push(null)
      checks[`filters: ${name}`] = `not subscribed (${filter.build()}): ${err.message}`
    }
  }
  if (channels.length) {
    await insertRows('pg_changes', cases.flatMap(([, , rows]) => rows.map((r) => ({
      value: r.value, details: r.details ?? null, nullable_value: r.nullable_value ?? null }))))
  }
  for (const [i, [name, filter, rows, want]] of cases.entries()) {
    if (!channels[i]) continue
    await check(`filters: ${name}`, async () => {
      const seen = channels[i].got[0]
      await waitFor(`${filter.build()} to deliver ${want}`, () => want.every((v) => seen.some((p) => p.new.value === v)), EVENT_MS)
      await sleep(300)
      const ours = new Set(rows.map((r) => r.value))
      const got = seen.map((p) => p.new.value).filter((v) => ours.has(v))
      assert.deepEqual([...new Set(got)].sort(), [...want].sort(), `${filter.build()} delivered ${JSON.stringify(got)}`)
    })
  }
  for (const c of channels) if (c) await client.removeChannel(c.channel)

  await check('select: only the chosen columns', async () => {
    const value = `select_${tag}`
    const { channel, got } = await changesChannel(client, [
      { event: 'INSERT', schema: 'public', table: 'pg_changes', filter: f().eq('value', value).build(), select: ['id', 'value'] },
      { event: 'INSERT', schema: 'public', table: 'pg_changes', filter: f().eq('value', value).build() },
    ])
    await insertRows('pg_changes', [{ value, details: `${tag}details`, nullable_value: `${tag}nv` }])
    await waitFor('both bindings', () => got.every((g) => g.length >= 1), EVENT_MS)
    assert.deepEqual(Object.keys(got[0][0].new).sort(), ['id', 'value'])
    assert.deepEqual(Object.keys(got[1][0].new).sort(), ['details', 'id', 'nullable_value', 'value'])
    await client.removeChannel(channel)
  })

  return { checks }
})
