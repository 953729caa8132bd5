// Two phones running the real WatermelonDB client (LokiJS adapter, in memory, in Node) sync against the server.
// Run by tests/sync/test_watermelon_e2e.py with FIELD_URL, TOKEN_A, TOKEN_B and TEAM_ID set. Logs go to stderr;
// stdout carries one line of JSON: every local row of both phones, for the Python test to compare with the server.
'use strict'

const crypto = require('crypto')
const { Database, Model, appSchema, tableSchema } = require('@nozbe/watermelondb')
const LokiJSAdapter = require('@nozbe/watermelondb/adapters/lokijs').default
const { synchronize } = require('@nozbe/watermelondb/sync')
const { setGenerator } = require('@nozbe/watermelondb/utils/common/randomId')
const { schemaMigrations } = require('@nozbe/watermelondb/Schema/migrations')

const { FIELD_URL, TOKEN_A, TOKEN_B, TEAM_ID } = process.env
const events = []
const log = (...args) => console.error('[e2e]', ...args)
const note = (text) => {
  events.push(text)
  log(text)
}

// The server accepts UUID ids only.
setGenerator(() => crypto.randomUUID())

async function api(token, path, options = {}) {
  const response = await fetch(`${FIELD_URL}${path}`, {
    ...options,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`${options.method || 'GET'} ${path}: ${response.status} ${text}`)
  return JSON.parse(text)
}

function makePhone(name, token, serverSchema) {
  const schema = appSchema({
    version: serverSchema.version,
    tables: serverSchema.tables.map((t) => tableSchema(t)),
  })
  const modelClasses = serverSchema.tables.map((t) => {
    const cls = class extends Model {}
    cls.table = t.name
    return cls
  })
  const adapter = new LokiJSAdapter({
    schema,
    migrations: schemaMigrations({ migrations: [] }), // migration syncs need a database that has migrations
    useWebWorker: false,
    useIncrementalIndexedDB: false,
    dbName: `phone-${name}-${crypto.randomUUID()}`,
  })
  const database = new Database({ adapter, modelClasses })
  const tables = serverSchema.tables.map((t) => t.name)

  // failPush: the push of this sync is lost (the network went after the pull), as happens in the field.
  async function sync({ failPush = false } = {}) {
    const rejected = []
    await synchronize({
      database,
      migrationsEnabledAtVersion: 1,
      // docs/watermelondb.md: keep the server_version an unsynced local edit started from, so the server
      // merges against it (push with server_version=kept).
      conflictResolver: (table, local, remote, resolved) => {
        if (local._status !== 'synced') resolved.server_version = local.server_version
        return resolved
      },
      pullChanges: async ({ lastPulledAt, schemaVersion, migration }) => {
        const q =
          `last_pulled_at=${lastPulledAt ?? 'null'}&schema_version=${schemaVersion}` +
          `&migration=${encodeURIComponent(JSON.stringify(migration))}`
        return api(token, `/api/v1/sync/watermelon/pull?${q}`)
      },
      pushChanges: async ({ changes, lastPulledAt }) => {
        if (failPush) throw new Error('network lost before the push')
        const body = await api(token, `/api/v1/sync/watermelon/push?last_pulled_at=${lastPulledAt}&server_version=kept`, {
          method: 'POST',
          body: JSON.stringify(changes),
        })
        for (const ids of Object.values(body.experimentalRejectedIds || {})) rejected.push(...ids)
        return body
      },
    })
    if (rejected.length) throw new Error(`phone ${name}: server rejected ${rejected.join(', ')}`)
    note(`${name} synced`)
  }

  async function rows() {
    const out = {}
    for (const table of tables) {
      const records = await database.get(table).query().fetch()
      out[table] = records
        .map((r) => {
          const { _status, _changed, ...raw } = r._raw
          return raw
        })
        .sort((x, y) => (x.id < y.id ? -1 : 1))
    }
    return out
  }

  const engagements = () => database.get('engagements')
  const find = (id) => engagements().find(id)

  async function create(columns) {
    let created
    await database.write(async () => {
      created = await engagements().create((r) => {
        for (const [k, v] of Object.entries(columns)) r._setRaw(k, v)
      })
    })
    return created.id
  }

  async function edit(id, change) {
    const record = await find(id)
    await database.write(async () => {
      await record.update((r) => change(r._raw, (k, v) => r._setRaw(k, v)))
    })
  }

  async function remove(id) {
    const record = await find(id)
    await database.write(async () => {
      await record.markAsDeleted()
    })
  }

  return { name, database, sync, rows, create, edit, remove, find }
}

async function main() {
  for (const [k, v] of Object.entries({ FIELD_URL, TOKEN_A, TOKEN_B, TEAM_ID })) {
    if (!v) throw new Error(`${k} is not set`)
  }
  const serverSchema = await api(TOKEN_A, '/api/v1/sync/watermelon/schema')
  const A = makePhone('A', TOKEN_A, serverSchema)
  const B = makePhone('B', TOKEN_B, serverSchema)
  const team = Number(TEAM_ID)

  // 1. A logs two on-view contacts offline, then syncs.
  const e1 = await A.create({
    origin: 'on_view',
    beat: '19X',
    notes: 'A first note',
    needs: '["housing"]',
    team_id: team,
  })
  const e2 = await A.create({ origin: 'community_referral', notes: 'Referral from a neighbour', team_id: team })
  note(`A created ${e1} and ${e2}`)
  await A.sync()

  // 2. B's first sync brings both.
  await B.sync()
  for (const id of [e1, e2]) await B.find(id) // throws when missing
  note('B holds both engagements')

  // 3. Both phones edit E1 offline: different fields, and the same free-text field.
  await A.edit(e1, (raw, set) => {
    set('beat', '20Y')
    set('notes', `${raw.notes}\nA: left water at the shelter`)
  })
  await B.edit(e1, (raw, set) => {
    set('address', 'International Blvd & 23rd Ave')
    set('notes', `${raw.notes}\nB: he declined a ride`)
  })
  note('A and B edited E1 offline')
  await A.sync()
  await B.sync()
  await A.sync()
  await B.sync()

  // 4. A deletes E2.
  await A.remove(e2)
  note('A deleted E2')
  await A.sync()
  await B.sync()

  // 5. Both set E1's disposition offline. A syncs first; B's sync pulls A's value, then loses its push, and
  // B syncs again later: its value, set before it saw A's, is kept as a conflict, not written over A's.
  await B.edit(e1, (raw, set) => set('disposition', 'transported'))
  await A.edit(e1, (raw, set) => set('disposition', 'resolved_on_scene'))
  await A.sync()
  await B.sync({ failPush: true }).then(
    () => {
      throw new Error('the failed push did not fail')
    },
    (error) => note(`B lost a push: ${error.message}`),
  )
  await B.sync()

  // 6. Both once more, so each has pulled what the other pushed last.
  await A.sync()
  await B.sync()

  const result = { A: await A.rows(), B: await B.rows(), events }
  const same = JSON.stringify(result.A) === JSON.stringify(result.B)
  if (!same) throw new Error(`the phones differ:\nA=${JSON.stringify(result.A)}\nB=${JSON.stringify(result.B)}`)
  for (const phone of ['A', 'B']) {
    const rows = result[phone].engagements
    if (rows.some((r) => r.id === e2)) throw new Error(`E2 is still on phone ${phone}`)
    const one = rows.find((r) => r.id === e1)
    if (!one || one.beat !== '20Y' || one.address !== 'International Blvd & 23rd Ave' ||
        one.disposition !== 'resolved_on_scene') {
      throw new Error(`E1 on phone ${phone} lacks an edit: ${JSON.stringify(one)}`)
    }
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error && error.stack ? error.stack : error)
    process.exit(1)
  },
)
