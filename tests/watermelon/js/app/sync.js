// The app's sync (docs/watermelondb.md, "2. Sync"). Run as written by tests/watermelon/js.
const { synchronize } = require('@nozbe/watermelondb/sync')

// When a pull brings a newer row of a record edited on the phone, WatermelonDB keeps the edited columns. Keep
// the phone's server_version too: the push (server_version=kept) then tells the server which version each
// edit started from, so it merges against that. A row created on the phone and not yet synced (its push
// answer was lost) keeps its 0 the same way; the server sends it back with its version once it is synced.
function conflictResolver(table, local, remote, resolved) {
  if (local._status !== 'synced') resolved.server_version = local.server_version
  return resolved
}

class ResetRequired extends Error {}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// 503 server_busy: the server took nothing of the request; come back after its Retry-After (seconds).
async function send(fetchImpl, url, options, retries = 8) {
  for (let attempt = 0; ; attempt += 1) {
    const response = await fetchImpl(url, options)
    if (response.status !== 503 || attempt >= retries) return response
    await sleep(1000 * (Number(response.headers.get('Retry-After')) || 1))
  }
}

async function answer(response) {
  const text = await response.text()
  if (response.status === 410) throw new ResetRequired(text) // reset_required: see "Resetting"
  if (!response.ok) throw new Error(`${response.status} ${text}`)
  return JSON.parse(text)
}

// One synchronize(): pull one answer, apply it, push what changed on the phone. Returns whether the server
// has more to send (has_more).
async function syncOnce({ database, baseUrl, token, fetchImpl = fetch }) {
  const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }
  let hasMore = false
  await synchronize({
    database,
    migrationsEnabledAtVersion: 1,
    conflictResolver,
    pullChanges: async ({ lastPulledAt, schemaVersion, migration }) => {
      const query =
        `last_pulled_at=${lastPulledAt ?? 'null'}&schema_version=${schemaVersion}` +
        `&migration=${encodeURIComponent(JSON.stringify(migration))}`
      const body = await answer(await send(fetchImpl, `${baseUrl}/api/v1/sync/watermelon/pull?${query}`, { headers }))
      hasMore = body.has_more === true
      return body // { changes, timestamp[, has_more][, experimentalStrategy] }
    },
    pushChanges: async ({ changes, lastPulledAt }) => {
      const query = `last_pulled_at=${lastPulledAt}&server_version=kept` // kept: the conflictResolver above
      const url = `${baseUrl}/api/v1/sync/watermelon/push?${query}`
      return answer(await send(fetchImpl, url, { method: 'POST', headers, body: JSON.stringify(changes) }))
    },
  })
  return hasMore
}

// A whole sync: synchronize() again while the server says it has more (a first sync of a large team comes in
// answers of at most SYNC_WATERMELON_PULL_PAGE records). Each round is a complete sync on its own.
async function sync(options) {
  let rounds = 0
  while (await syncOnce(options)) {
    rounds += 1
    if (rounds > 10000) throw new Error('the server keeps saying has_more')
  }
}

module.exports = { sync, syncOnce, conflictResolver, ResetRequired }
