// A phone for the end-to-end tests: the app's own database.js and sync.js (the code docs/watermelondb.md shows)
// on WatermelonDB's LokiJS adapter in memory, with a network that can lose an answer or say 503 once.
'use strict'

const crypto = require('crypto')
const LokiJSAdapter = require('@nozbe/watermelondb/adapters/lokijs').default
const logger = require('@nozbe/watermelondb/utils/common/logger').default
const { makeDatabase } = require('./app/database')
const { sync, syncOnce } = require('./app/sync')

// Every message WatermelonDB logs (its "[Sync] …" inconsistencies among them), for the test to check.
const logged = []
for (const level of ['warn', 'error']) {
  const original = logger[level].bind(logger)
  logger[level] = (...messages) => {
    logged.push(messages.map((m) => (m && m.message) || String(m)).join(' '))
    original(...messages)
  }
}

const stats = { requests: 0, busy: 0, lostAnswers: 0, injectedBusy: 0, overlapsAborted: 0, pulledRecords: 0, pushes: 0 }

function makePhone(name, token, serverSchema, baseUrl) {
  const database = makeDatabase(
    serverSchema,
    (options) =>
      new LokiJSAdapter({
        ...options,
        useWebWorker: false,
        useIncrementalIndexedDB: true, // (in Node there is no IndexedDB: LokiJS keeps it in memory)
        dbName: `phone-${name}-${crypto.randomUUID()}`,
      }),
  )
  const tables = serverSchema.tables.map((t) => t.name)
  const network = { losePushAnswer: false, busyOnce: false }

  // The network as the app sees it: the answer to a push can be lost after the server applied it (the app
  // gets an error, WatermelonDB leaves the rows unsynced), and a request can meet a 503 with Retry-After.
  async function fetchImpl(url, options = {}) {
    const push = (options.method || 'GET') === 'POST'
    if (push && network.busyOnce) {
      network.busyOnce = false
      stats.injectedBusy += 1
      return new Response('{"code":"server_busy"}', { status: 503, headers: { 'Retry-After': '1' } })
    }
    stats.requests += 1
    const response = await fetch(url, options)
    if (response.status === 503) stats.busy += 1
    if (push && response.ok) stats.pushes += 1
    if (!push && response.ok && String(url).includes('/watermelon/pull')) {
      const body = await response.clone().json()
      for (const part of Object.values(body.changes)) {
        stats.pulledRecords += part.created.length + part.updated.length + part.deleted.length
      }
    }
    if (push && response.ok && network.losePushAnswer) {
      network.losePushAnswer = false
      stats.lostAnswers += 1
      await response.text()
      throw new Error(`phone ${name}: the push answer was lost`)
    }
    return response
  }

  const options = { database, baseUrl, token, fetchImpl }

  async function rows() {
    const out = {}
    for (const table of tables) {
      const records = await database.get(table).query().fetch()
      out[table] = records.map((r) => ({ ...r._raw })).sort((x, y) => (x.id < y.id ? -1 : 1))
    }
    return out
  }

  async function create(table, columns) {
    let created
    await database.write(async () => {
      created = await database.get(table).create((r) => {
        for (const [k, v] of Object.entries(columns)) r._setRaw(k, v)
      })
    })
    return created.id
  }

  async function edit(table, id, change) {
    const record = await database.get(table).find(id)
    await database.write(async () => {
      await record.update((r) => change(r._raw, (k, v) => r._setRaw(k, v)))
    })
  }

  async function remove(table, id) {
    const record = await database.get(table).find(id)
    await database.write(async () => {
      await record.markAsDeleted()
    })
  }

  async function has(table, id) {
    return (await database.get(table).query().fetchIds()).includes(id)
  }

  return {
    name,
    database,
    network,
    rows,
    create,
    edit,
    remove,
    has,
    sync: () => sync(options),
    syncOnce: () => syncOnce(options),
  }
}

module.exports = { makePhone, logged, stats }
