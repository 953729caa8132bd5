// Phones running the real WatermelonDB client (LokiJS adapter, in memory, in Node) sync against the server
// through the app code docs/watermelondb.md shows (app/database.js, app/sync.js).
// Run by tests/sync/test_watermelon_e2e.py: `node e2e.js <scenario>` with FIELD_URL, PHONES ({name: token}),
// TEAMS ({program: team id}) and E2E_RESULT (a file) set. Logs go to stderr; the file gets JSON: every local
// row of every phone, WatermelonDB's logged warnings and errors, and counts, for the Python test to compare
// with the server.
'use strict'

const { makePhone, logged, stats } = require('./phone')

const { FIELD_URL } = process.env
const PHONES = JSON.parse(process.env.PHONES || '{}')
const TEAMS = JSON.parse(process.env.TEAMS || '{}')
const events = []
const note = (text) => {
  events.push(text)
  console.error('[e2e]', text)
}

// A small seeded generator: the same run every time, and a different one with E2E_SEED.
let seed = Number(process.env.E2E_SEED || 15)
function random() {
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed / 2147483648
}
const pick = (items) => items[Math.floor(random() * items.length)]

async function getSchema(token) {
  const response = await fetch(`${FIELD_URL}/api/v1/sync/watermelon/schema`, {
    headers: { Authorization: `Bearer ${token}` },
  })
  if (!response.ok) throw new Error(`schema: ${response.status}`)
  return response.json()
}

async function phones(names) {
  const serverSchema = await getSchema(PHONES[names[0]])
  return names.map((name) => makePhone(name, PHONES[name], serverSchema, FIELD_URL))
}

// Tell the Python test something on stdout and wait for its line on stdin.
function askTheTest(what) {
  process.stdout.write(`E2E:${what}\n`)
  return new Promise((resolve) => process.stdin.once('data', () => resolve()))
}

// A sync whose push answer may be lost: the error is the app's to see, nothing else may fail.
async function trySync(phone, { loseAnswer = false, overlap = false } = {}) {
  phone.network.losePushAnswer = loseAnswer
  const runs = overlap ? [phone.syncOnce(), phone.syncOnce()] : [phone.sync()]
  const outcomes = await Promise.allSettled(runs)
  phone.network.losePushAnswer = false
  for (const outcome of outcomes) {
    if (outcome.status === 'fulfilled') continue
    const message = String(outcome.reason && outcome.reason.message)
    if (message.includes('the push answer was lost')) {
      note(`${phone.name}: push answer lost`)
    } else if (overlap && message.includes('Concurrent synchronization is not allowed')) {
      stats.overlapsAborted += 1 // WatermelonDB aborts the later of two overlapping synchronize() calls
    } else {
      throw outcome.reason
    }
  }
}

const engagement = (team, columns = {}) => ({
  origin: 'on_view',
  beat: '19X',
  notes: 'Checked on a man at the bus shelter.',
  needs: '["housing"]',
  supplies: '{"water":1}',
  team_id: team,
  ...columns,
})

const EDITS = [
  (name, n) => (raw, set) => set('notes', `${raw.notes}\n${name}: visit ${n}`),
  () => (raw, set) => set('beat', pick(['19X', '20Y', '21Z', '22A'])),
  () => (raw, set) => {
    const needs = raw.needs ? JSON.parse(raw.needs) : []
    const need = pick(['housing', 'medical', 'basic_needs', 'transportation'])
    set('needs', JSON.stringify(needs.includes(need) ? needs : [...needs, need]))
  },
  () => (raw, set) => {
    const supplies = raw.supplies ? JSON.parse(raw.supplies) : {}
    const item = pick(['water', 'food', 'hygiene_kit'])
    set('supplies', JSON.stringify({ ...supplies, [item]: (supplies[item] || 0) + 1 }))
  },
  () => (raw, set) => set('disposition', pick(['resolved_on_scene', 'referred', 'declined_services'])),
  () => (raw, set) => set('address', pick(['International Blvd & 23rd Ave', 'Telegraph & 40th', 'Broadway & 14th'])),
]

async function randomWork(phone, team, round) {
  const ids = (await phone.database.get('engagements').query().fetch()).map((r) => r.id).sort()
  const roll = random()
  if (roll < 0.2 || ids.length === 0) {
    await phone.create('engagements', engagement(team, { notes: `${phone.name} round ${round}` }))
  } else if (roll < 0.25 && ids.length > 3) {
    await phone.remove('engagements', pick(ids))
  } else {
    for (let i = 0; i < 1 + Math.floor(random() * 2); i += 1) {
      await phone.edit('engagements', pick(ids), pick(EDITS)(phone.name, round))
    }
  }
}

// Several phones of one van, a long-offline phone, lost answers, overlapping and concurrent syncs, and a
// DVP phone creating a case and its contact attempt in one push.
async function fieldDay() {
  const [A, B, C, D, E] = await phones(['A', 'B', 'C', 'D', 'E'])
  const team = TEAMS.MACRO
  const van = [A, B, C, D]

  const e1 = await A.create('engagements', engagement(team))
  const e2 = await A.create('engagements', engagement(team, { notes: 'Referral from a neighbour' }))
  await trySync(A)
  for (const phone of [B, C, D]) await trySync(phone)
  await trySync(A)
  note('everyone holds E1 and E2')

  // D goes offline for the rest of the day, with edits and a new record.
  await D.edit('engagements', e1, (raw, set) => set('address', 'Foothill & 54th'))
  await D.create('engagements', engagement(team, { notes: 'D, offline all day' }))

  // Issue 15, item 1: A's merged edit of the notes loses its answer.
  await A.edit('engagements', e1, (raw, set) => set('notes', `${raw.notes}\nA: left water at the shelter`))
  await B.edit('engagements', e1, (raw, set) => set('notes', `${raw.notes}\nB: he declined a ride`))
  await trySync(B)
  await trySync(A, { loseAnswer: true })
  await trySync(A)

  // Item 2: a created row whose answer is lost.
  await C.create('engagements', engagement(team, { notes: 'C: answer lost' }))
  await trySync(C, { loseAnswer: true })
  await trySync(C)

  // A delete refused (B changed the record since) whose answer is lost.
  await B.edit('engagements', e2, (raw, set) => set('disposition', 'referred'))
  await trySync(B)
  await A.remove('engagements', e2)
  await trySync(A, { loseAnswer: true })

  // A 503 server_busy with Retry-After before a push: the app waits and sends it again.
  await B.edit('engagements', e1, (raw, set) => set('beat', '20Y'))
  B.network.busyOnce = true
  await trySync(B)

  // Two synchronize() calls at once on one phone (a screen and a timer both sync): WatermelonDB aborts the later.
  await C.edit('engagements', e1, (raw, set) => set('needs', '["housing","medical"]'))
  await trySync(C, { overlap: true })

  // Rounds of random work by the online phones; some syncs concurrent, overlapping, or losing their answer.
  for (let round = 1; round <= 8; round += 1) {
    for (const phone of [A, B, C]) await randomWork(phone, team, round)
    const options = () => ({ loseAnswer: random() < 0.2, overlap: random() < 0.15 })
    if (round % 2 === 0) {
      await Promise.all([A, B, C].map((phone) => trySync(phone, options())))
    } else {
      for (const phone of [A, B, C]) await trySync(phone, options())
    }
  }
  note('rounds done')

  // D comes back after the whole day offline.
  await trySync(D)
  note('D is back')

  // DVP, item 3: a follow-up case and its first contact attempt, created together.
  const due = new Date(Date.now() + 3 * 86400000).toISOString().slice(0, 10)
  await trySync(E)
  const kase = await E.create('follow_up_cases', {
    persons: '[]', incidents: '[]', status: 'open', next_contact_due: due, team_id: TEAMS.DVP,
  })
  await E.create('contact_attempts', {
    case_id: kase, mode: 'in_person', made: true, outcome: 'reached', attempted_at: Date.now(), team_id: TEAMS.DVP,
  })
  await trySync(E)
  await trySync(E)

  // The day ends: the test lets the time pass after which a deletion reaches a phone with nothing to push
  // (SYNC_WATERMELON_DELETE_GRACE_HOURS). Then everyone syncs until two whole rounds bring nothing and send
  // nothing. Before each round the test waits until every change committed so far reaches pulls (a change
  // does once every transaction older than it has ended, on the whole database server).
  await askTheTest('END_OF_DAY')
  let quiet = 0
  for (let pass = 0; pass < 15 && quiet < 2; pass += 1) {
    await askTheTest('SETTLE')
    const before = stats.pulledRecords + stats.pushes
    for (const phone of [...van, E]) await trySync(phone)
    quiet = stats.pulledRecords + stats.pushes === before ? quiet + 1 : 0
  }
  note(quiet >= 2 ? 'settled' : 'did not settle')
  return { A, B, C, D, E }
}

// Issue 15, item 4: two phones count the same supply from the same base, offline.
async function increments() {
  const [A, B] = await phones(['A', 'B'])
  const id = await A.create('engagements', engagement(TEAMS.MACRO, { supplies: '{"water":1}' }))
  await trySync(A)
  await trySync(B)
  await trySync(A)
  for (const phone of [A, B]) {
    await phone.edit('engagements', id, (raw, set) => set('supplies', '{"water":2}'))
  }
  await trySync(A)
  await trySync(B)
  await trySync(A)
  await trySync(B)
  return { A, B }
}

// A new phone's first sync of a large team: every record once, in bounded answers (measured).
async function firstSync() {
  const [N] = await phones(['N'])
  const answers = []
  const realFetch = global.fetch
  global.fetch = async (url, options) => {
    const response = await realFetch(url, options)
    if (String(url).includes('/watermelon/pull')) {
      const text = await response.clone().text()
      const body = JSON.parse(text)
      let records = 0
      const ids = []
      for (const part of Object.values(body.changes || {})) {
        records += part.created.length + part.updated.length
        ids.push(...part.created.map((r) => r.id), ...part.updated.map((r) => r.id))
      }
      answers.push({ bytes: Buffer.byteLength(text), records, ids, has_more: body.has_more === true })
    }
    return response
  }
  const started = Date.now()
  await N.sync()
  const seconds = (Date.now() - started) / 1000
  global.fetch = realFetch
  return { phones: { N }, extra: { answers, seconds } }
}

const SCENARIOS = { 'field-day': fieldDay, increments, 'first-sync': firstSync }

async function main() {
  const scenario = SCENARIOS[process.argv[2] || 'field-day']
  if (!FIELD_URL || !scenario) throw new Error('usage: FIELD_URL=… PHONES=… TEAMS=… node e2e.js <scenario>')
  const ran = await scenario()
  const phoneMap = ran.phones || ran
  const result = { phones: {}, logged, stats, events, ...(ran.extra || {}) }
  for (const [name, phone] of Object.entries(phoneMap)) result.phones[name] = await phone.rows()
  // A file, not stdout: process.exit() does not wait for a pipe to drain.
  require('fs').writeFileSync(process.env.E2E_RESULT, JSON.stringify(result))
}

main().then(
  () => process.exit(0), // (stdin stays open for askTheTest)
  (error) => {
    console.error(error && error.stack ? error.stack : error)
    process.exit(1)
  },
)
