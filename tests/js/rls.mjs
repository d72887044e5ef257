// postgres_changes on tables with row level security through realtime-js, as a Supabase
// app uses them: tokens of Supabase's API roles, `auth.uid()` policies, a membership
// policy, column privileges, and a token refreshed with setAuth.
//
//   RT_VSN              protocol ("2.0.0", "1.0.0" or "default"), default "default"
//   RT_TOKEN_ALICE, RT_TOKEN_BOB   role authenticated, sub RT_ALICE / RT_BOB
//   RT_TOKEN_ANON       role anon
//   RT_TOKEN_ALICE_AS_BOB  role authenticated, sub RT_BOB (alice's refreshed token)
//
// The driver makes the schema (tables rt_todos: `auth.uid() = user_id` for authenticated,
// `true` for anon which may SELECT (id, title) only; rt_team_docs: a membership
// sub-select, alice in team 1, bob in team 2; rt_marker) and runs the SQL of steps
// "changes" and "changes_after_refresh"; at step "refreshed" it waits until alice's
// subscription rows carry bob's subject.
// Asserts: every client SUBSCRIBED and told "Subscribed to PostgreSQL"; the join reply
// echoes each binding as realtime-js compares it; each user gets exactly its own todos and
// its team's documents, in commit order; anon every todo with only id and title (in
// `new` and `columns`); after alice's setAuth with bob's subject, alice gets bob's rows
// and no longer hers.
import { assert, env, makeClient, runScenario, step, subscribe, uniqueTopic, waitFor } from './harness.mjs'

const ALICE = env('RT_ALICE')
const BOB = env('RT_BOB')

const CHANGES = [
  `INSERT INTO public.rt_todos (user_id, title, secret) VALUES ('${ALICE}', 'alice 1', 's')`,
  `INSERT INTO public.rt_todos (user_id, title, secret) VALUES ('${BOB}', 'bob 1', 's')`,
  `INSERT INTO public.rt_team_docs (team_id, body) VALUES (1, 'team 1 doc'), (2, 'team 2 doc')`,
  `UPDATE public.rt_todos SET title = 'alice 1 edited' WHERE title = 'alice 1'`,
  `INSERT INTO public.rt_marker DEFAULT VALUES`,
]
const CHANGES_AFTER_REFRESH = [
  `INSERT INTO public.rt_todos (user_id, title) VALUES ('${ALICE}', 'alice 2'), ('${BOB}', 'bob 2')`,
  `INSERT INTO public.rt_marker DEFAULT VALUES`,
]

// A client with one channel: rt_todos (*), rt_team_docs (INSERT), rt_marker (INSERT).
async function open(name, token, vsn) {
  const entry = makeClient(name, { vsn, token })
  const channel = entry.client.channel(uniqueTopic(`rls-${name}`))
  const got = { todos: [], docs: [], markers: 0 }
  const system = []
  channel
    .on('postgres_changes', { event: '*', schema: 'public', table: 'rt_todos' }, (p) => got.todos.push(p))
    .on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'rt_team_docs' }, (p) => got.docs.push(p))
    .on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'rt_marker' }, () => { got.markers += 1 })
    .on('system', {}, (p) => system.push(p))
  const statuses = []
  await subscribe(channel, statuses)
  assert.equal(channel.bindings.postgres_changes.length, 3)
  for (const b of channel.bindings.postgres_changes) assert.ok(Number.isInteger(b.id), `binding id ${b.id}`)
  await waitFor(`${name}: Subscribed to PostgreSQL`,
    () => system.find((s) => s.extension === 'postgres_changes' && s.message === 'Subscribed to PostgreSQL'))
  return { name, entry, channel, got, system, statuses }
}

const todoTitles = (c) => c.got.todos.map((p) => `${p.eventType} ${(p.new.title ?? p.old.title)}`)

runScenario('rls', async () => {
  const vsnEnv = env('RT_VSN', 'default')
  const vsn = vsnEnv === 'default' ? undefined : vsnEnv
  const alice = await open('alice', env('RT_TOKEN_ALICE'), vsn)
  const bob = await open('bob', env('RT_TOKEN_BOB'), vsn)
  const anon = await open('anon', env('RT_TOKEN_ANON'), vsn)
  const all = [alice, bob, anon]

  await step('changes', { sql: CHANGES })
  for (const c of all) await waitFor(`${c.name}: the marker`, () => c.got.markers >= 1)

  assert.deepEqual(todoTitles(alice), ['INSERT alice 1', 'UPDATE alice 1 edited'])
  assert.deepEqual(alice.got.docs.map((p) => p.new.body), ['team 1 doc'])
  assert.equal(alice.got.todos[0].new.secret, 's', 'authenticated reads every column')
  assert.deepEqual(todoTitles(bob), ['INSERT bob 1'])
  assert.deepEqual(bob.got.docs.map((p) => p.new.body), ['team 2 doc'])
  assert.deepEqual(todoTitles(anon), ['INSERT alice 1', 'INSERT bob 1', 'UPDATE alice 1 edited'])
  assert.deepEqual(anon.got.docs, [], 'anon may not read rt_team_docs rows')
  for (const p of anon.got.todos) {
    assert.deepEqual(Object.keys(p.new).sort(), ['id', 'title'], `anon's new: ${JSON.stringify(p.new)}`)
  }
  assert.deepEqual(anon.got.todos[2].old, { id: anon.got.todos[2].new.id, title: 'alice 1' }, "anon's old")
  const anonPush = anon.entry.messages.find((m) => m.event === 'postgres_changes' && m.payload.data.table === 'rt_todos')
  assert.deepEqual(anonPush.payload.data.columns.map((c) => c.name), ['id', 'title'], "anon's columns")

  // alice's token refreshed with bob's subject: her subscriptions follow the new claims.
  await alice.entry.client.setAuth(env('RT_TOKEN_ALICE_AS_BOB'))
  await step('refreshed')
  await step('changes_after_refresh', { sql: CHANGES_AFTER_REFRESH })
  for (const c of all) await waitFor(`${c.name}: the second marker`, () => c.got.markers >= 2)
  assert.deepEqual(todoTitles(alice).slice(2), ['INSERT bob 2'])
  assert.deepEqual(todoTitles(bob).slice(1), ['INSERT bob 2'])
  for (const c of all) {
    assert.deepEqual(c.statuses, ['SUBSCRIBED'])
    assert.ok(!c.system.some((s) => s.status === 'error'), `${c.name}: ${JSON.stringify(c.system)}`)
  }
  return {
    vsn: alice.entry.client.vsn,
    todos: Object.fromEntries(all.map((c) => [c.name, todoTitles(c)])),
    docs: Object.fromEntries(all.map((c) => [c.name, c.got.docs.map((p) => p.new.body)])),
  }
})
