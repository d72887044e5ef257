// A rolling restart under load, as realtime-js clients live through it (issue 13): clients
// on two relays of a cluster receive a steady stream of inserts; one relay (the slot
// holder) is stopped with SIGTERM and started again on the same address. Every client must
// resubscribe by itself and, once the stream ends, have every committed row.
//
//   RT_ENDPOINT_A, RT_ENDPOINT_B  the two relays' realtime-js endpoints; A is restarted
//   RT_TOKEN                      an `authenticated` token
//   RT_TABLE                      the table the driver writes to
//   RT_CLIENTS_PER_NODE           clients connected to each relay (default 3)
//
// Steps: "load" (the driver starts writing a row every few milliseconds), "restart" (it
// restarts relay A; answered once A is back), "stop" (it stops writing and inserts the
// row with note 'end'). The summary has, per client, the ids it received; the driver
// compares them with the rows committed.
import { assert, env, makeClient, runScenario, step, subscribe, uniqueTopic, waitFor } from '../js/harness.mjs'

runScenario('rolling_restart', async () => {
  const table = env('RT_TABLE')
  const perNode = Number(env('RT_CLIENTS_PER_NODE', '3'))
  const peers = []
  for (const node of ['a', 'b']) {
    for (let i = 0; i < perNode; i++) {
      const entry = makeClient(`${node}${i}`, { endpoint: env(`RT_ENDPOINT_${node.toUpperCase()}`) })
      const channel = entry.client.channel(uniqueTopic(`rolling-${node}${i}`))
      const peer = { ...entry, node, channel, ids: [], statuses: [], systemOk: 0, end: false }
      channel
        .on('postgres_changes', { event: 'INSERT', schema: 'public', table }, ({ new: row }) => {
          if (row.note === 'end') peer.end = true
          else peer.ids.push(row.id)
        })
        .on('system', '*', ({ status }) => { if (status === 'ok') peer.systemOk += 1 })
      peers.push(peer)
    }
  }
  await Promise.all(peers.map((p) => subscribe(p.channel, p.statuses)))
  await waitFor('every client subscribed to PostgreSQL', () => peers.every((p) => p.systemOk >= 1))

  await step('load')
  await waitFor('the load to reach every client', () => peers.every((p) => p.ids.length >= 10), 15000)

  await step('restart')
  const restarted = peers.filter((p) => p.node === 'a')
  // Rejoined by itself: SUBSCRIBED again after the channel was interrupted.
  const rejoined = (p) => p.statuses.lastIndexOf('SUBSCRIBED') > 0 && p.channel.state === 'joined'
  try {
    await waitFor('every client of the restarted relay to rejoin by itself', () => restarted.every(rejoined), 30000)
  } catch (err) {
    throw new Error(`${err.message}; states: ${JSON.stringify(restarted.map((p) =>
      ({ client: p.name, state: p.channel.state, statuses: p.statuses, connected: p.client.isConnected() })))}`)
  }
  const afterRejoin = Object.fromEntries(peers.map((p) => [p.name, p.ids.length]))
  await waitFor('rows to keep arriving after the restart', () =>
    peers.every((p) => p.ids.length >= afterRejoin[p.name] + 10), 15000)

  await step('stop')
  await waitFor('the end row at every client', () => peers.every((p) => p.end), 20000)
  for (const p of peers.filter((x) => x.node === 'b')) {
    assert.deepEqual(p.statuses, ['SUBSCRIBED'], `${p.name} (on the relay that stayed up) was interrupted`)
  }
  return {
    clients: Object.fromEntries(peers.map((p) => [p.name, {
      node: p.node, ids: p.ids, statuses: p.statuses, system_ok: p.systemOk }])),
  }
})
