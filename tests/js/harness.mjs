// Shared plumbing for the realtime-js scenario scripts in this folder.
//
// A scenario is a Node script run by test_realtime_js.py. It reads where to connect from
// environment variables, drives @supabase/realtime-js exactly as an application would,
// asserts, and prints JSON lines on stdout:
//   {"step": "<name>"}                 it needs the driver to do something (e.g. run SQL);
//                                      it then waits for the line "<name>" on stdin
//   {"scenario": ..., "ok": true, ...} the summary, last line, exit code 0
//   {"scenario": ..., "ok": false, "error": "..."}  on failure, exit code 1 (2: deadline)
// Diagnostics (the failure, the clients' recent protocol traffic) go to stderr.
//
// Environment:
//   RT_ENDPOINT   realtime-js endpoint, e.g. ws://127.0.0.1:4000/socket (realtime-js
//                 appends /websocket and the query string itself)
//   RT_TOKEN      a JWT signed with the relay's secret (passed as params.apikey)
//   RT_DEADLINE_MS  whole-scenario deadline, default 30000
//   RT_TIMEOUT_MS   realtime-js push/join timeout, default 10000
// Scenario-specific variables are documented at the top of each scenario.
import assert from 'node:assert/strict'
import { createInterface } from 'node:readline'
import WebSocket from 'ws'
import { RealtimeClient, postgresChangesFilter } from '@supabase/realtime-js'

// Re-exported for scenarios outside this folder (they cannot resolve its node_modules).
export { assert, postgresChangesFilter }

export function env(name, fallback) {
  const value = process.env[name]
  if (value === undefined || value === '') {
    if (fallback !== undefined) return fallback
    throw new Error(`environment variable ${name} is required`)
  }
  return value
}

export function envBool(name, fallback = false) {
  const value = process.env[name]
  if (value === undefined || value === '') return fallback
  return ['1', 'true', 'yes'].includes(value.toLowerCase())
}

const clients = []

// A WebSocket transport (Node 20 has no global WebSocket) that counts frames by kind, so
// scenarios can check which wire encoding realtime-js actually used (vsn 2.0.0 sends user
// broadcasts as binary kind 3 and receives kind 4; vsn 1.0.0 is text only).
function countingTransport(frames) {
  return class CountingWebSocket extends WebSocket {
    constructor(address, protocols) {
      super(address, protocols)
      this.on('message', (data, isBinary) => {
        if (isBinary) {
          const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data)
          frames.recvBinary.push(bytes[0])
        } else {
          frames.recvText += 1
        }
      })
    }

    send(data, ...rest) {
      if (typeof data === 'string') {
        frames.sentText += 1
      } else {
        const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer ?? data)
        frames.sentBinary.push(bytes[0])
      }
      return super.send(data, ...rest)
    }
  }
}

// A RealtimeClient as an application would make it, plus test instrumentation:
// `frames` (frame counts by kind), `messages` (every decoded inbound message, in order)
// and `heartbeats` (statuses given to heartbeatCallback).
export function makeClient(name, { vsn, endpoint, token, heartbeatIntervalMs, ...options } = {}) {
  const frames = { sentText: 0, sentBinary: [], recvText: 0, recvBinary: [] }
  const heartbeats = []
  const trace = []
  const clientOptions = {
    params: { apikey: token ?? env('RT_TOKEN') },
    transport: countingTransport(frames),
    timeout: Number(env('RT_TIMEOUT_MS', '10000')),
    heartbeatCallback: (status) => heartbeats.push(status),
    logger: (kind, msg, data) => {
      trace.push(`${kind}: ${msg} ${data === undefined ? '' : safeJson(data)}`.slice(0, 1500))
      if (trace.length > 60) trace.shift()
    },
    ...options,
  }
  // Leave vsn out unless asked, so the default case really uses realtime-js's default.
  if (vsn) clientOptions.vsn = vsn
  if (heartbeatIntervalMs) clientOptions.heartbeatIntervalMs = heartbeatIntervalMs
  const client = new RealtimeClient(endpoint ?? env('RT_ENDPOINT'), clientOptions)
  const messages = []
  // socketAdapter is realtime-js internal; used only to observe inbound messages.
  client.socketAdapter.onMessage((msg) => {
    messages.push({ topic: msg.topic, event: msg.event, ref: msg.ref ?? null, payload: msg.payload })
  })
  const entry = { name, client, frames, messages, heartbeats, trace }
  clients.push(entry)
  return entry
}

function safeJson(value) {
  try {
    return JSON.stringify(value)
  } catch {
    return String(value)
  }
}

// subscribe() resolving on SUBSCRIBED and rejecting on anything else. Every status the
// callback ever receives is kept in `statuses` (so a later CHANNEL_ERROR is caught too).
export function subscribe(channel, statuses = []) {
  return new Promise((resolve, reject) => {
    channel.subscribe((status, err) => {
      statuses.push(err ? `${status}: ${err.message}` : status)
      if (status === 'SUBSCRIBED') resolve(statuses)
      else reject(new Error(`${channel.topic}: subscribe callback got ${status}${err ? `: ${err.message}` : ''}`))
    })
  })
}

// Polls `predicate` until it returns a truthy value (returned) or `ms` pass.
export async function waitFor(what, predicate, ms = 15000) {
  const deadline = Date.now() + ms
  for (;;) {
    const value = predicate()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(20)
  }
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

// Asks the driver to do something (named `name`) and waits until it says it is done.
let stdinLines = null
const pendingLines = []
const lineWaiters = []
export async function step(name, info = {}) {
  if (!stdinLines) {
    stdinLines = createInterface({ input: process.stdin })
    stdinLines.on('line', (line) => {
      const waiter = lineWaiters.shift()
      if (waiter) waiter(line.trim())
      else pendingLines.push(line.trim())
    })
  }
  console.log(JSON.stringify({ step: name, ...info }))
  const line = pendingLines.length ? pendingLines.shift() : await new Promise((resolve) => lineWaiters.push(resolve))
  if (line !== name) throw new Error(`driver answered ${JSON.stringify(line)} to step ${name}`)
}

// A channel name no other scenario (or rerun) shares.
export function uniqueTopic(prefix) {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
}

async function closeAll() {
  await Promise.all(
    clients.map(async ({ client }) => {
      try {
        await Promise.race([client.removeAllChannels(), sleep(3000)])
        await Promise.race([client.disconnect(), sleep(3000)])
      } catch {
        // best effort
      }
    })
  )
}

function dumpTraces() {
  for (const { name, trace } of clients) {
    console.error(`--- client ${name}: last protocol log lines ---`)
    for (const line of trace) console.error(`  ${line}`)
  }
}

// Runs `body` (an async function returning the summary object) under a deadline, prints
// the summary and exits.
export function runScenario(scenario, body) {
  const deadlineMs = Number(env('RT_DEADLINE_MS', '30000'))
  const timer = setTimeout(() => {
    const error = `deadline of ${deadlineMs} ms exceeded`
    console.error(`${scenario}: FAILED: ${error}`)
    dumpTraces()
    console.log(JSON.stringify({ scenario, ok: false, error }))
    process.exit(2)
  }, deadlineMs)
  const started = Date.now()
  Promise.resolve()
    .then(body)
    .then(async (summary) => {
      await closeAll()
      clearTimeout(timer)
      console.log(JSON.stringify({ scenario, ok: true, elapsed_ms: Date.now() - started, ...summary }))
      process.exit(0)
    })
    .catch(async (err) => {
      clearTimeout(timer)
      console.error(`${scenario}: FAILED: ${err && err.stack ? err.stack : err}`)
      dumpTraces()
      console.log(JSON.stringify({ scenario, ok: false, error: String(err && err.message ? err.message : err) }))
      await Promise.race([closeAll(), sleep(2000)])
      process.exit(1)
    })
}
