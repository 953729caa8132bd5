// The sync client: every edit goes to the outbox first; sync pushes the outbox, then pulls (docs/sync-protocol.md).
import { ApiError, STOP_CODES, call, session } from "./api.js";
import { db, getMeta, keyOf, nextSeq, setMeta, uuid } from "./db.js";

export const APP_VERSION = "1.0.0";
// Answers after which an edit leaves the outbox. `unchanged`: the record already held these values.
const DONE = new Set(["applied", "merged", "conflict", "amendment", "unchanged"]);
const MAX_BATCH = 200;

export const state = { syncing: false, error: null, stopped: null, retryAt: null, sessionEnded: false };
const listeners = new Set();

export function onChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function emit() {
  for (const fn of listeners) fn();
}

function now() {
  return new Date().toISOString();
}

function clone(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

/** Record fields of a pulled record (without the server's facts). */
const SERVER_FACTS = new Set([
  "type", "version", "program", "team", "deleted", "created_by", "updated_by", "created_on_device", "app_version",
  "form_version", "device_created_at", "device_updated_at", "server_received_at", "server_updated_at", "is_late",
]);

async function recompute(key) {
  const rec = await db.records.get(key);
  if (!rec) return;
  const entries = await db.outbox.where("key").equals(key).sortBy("n");
  const data = { ...(rec.server ? clone(rec.server) : { id: rec.id }) };
  // Edits the server has taken but a pull has not brought back yet (the pull can lag behind a push).
  if (rec.acked && (!rec.server || rec.server.version < rec.acked.version)) Object.assign(data, clone(rec.acked.fields));
  else delete rec.acked;
  for (const e of entries) Object.assign(data, clone(e.fields));
  const rejected = await db.rejected.where("key").equals(key).toArray();
  if (!rec.server) for (const r of rejected) Object.assign(data, clone(r.replay?.fields || r.fields));
  rec.data = data;
  rec.pending = entries.length;
  rec.rejected = rejected.length;
  await db.records.put(rec);
}

/**
 * Save an edit: the local copy changes at once and the edit joins the outbox.
 * Edits to a record not yet sent are folded into one mutation; an edit after one already sent waits for its
 * answer to learn its base version.
 */
export async function saveEdit(owner, type, id, fields, { create = false, team = null } = {}) {
  const forms = await getMeta("forms");
  const key = keyOf(type, id);
  await db.transaction("rw", db.records, db.outbox, db.rejected, async () => {
    let rec = await db.records.get(key);
    if (!rec) {
      rec = { key, owner, type, id, server: null, data: { id }, createdAt: now() };
      await db.records.put(rec);
    }
    const entries = await db.outbox.where("key").equals(key).sortBy("n");
    const last = entries[entries.length - 1];
    if (last && !last.sent && last.owner === owner) {
      last.fields = { ...last.fields, ...clone(fields) };
      last.device_time = now();
      await db.outbox.put(last);
    } else {
      await db.outbox.add({
        owner,
        key,
        type,
        id,
        mutation_id: uuid(),
        op: create && !last && !rec.server ? "create" : "update",
        fields: clone(fields),
        team,
        base_version: last ? null : rec.server ? rec.server.version : null,
        after: last ? last.mutation_id : null,
        device_time: now(),
        form_version: forms ? forms.form_version : "",
        sent: false,
        seq: null,
      });
    }
    await recompute(key);
  });
  emit();
  requestSync();
}

/** A corrected copy of a rejected edit, sent at the next sync (the server replays it). */
export async function queueReplay(mutationId, fields) {
  await db.transaction("rw", db.records, db.outbox, db.rejected, async () => {
    const r = await db.rejected.get(mutationId);
    r.replay = { fields: clone(fields), queuedAt: now() };
    await db.rejected.put(r);
    await recompute(r.key);
  });
  emit();
  requestSync();
}

async function addNotice(owner, notice) {
  await db.notices.add({ owner, at: now(), ...notice });
}

async function settle(owner, entry, result) {
  const status = result.status;
  const successors = await db.outbox.where("owner").equals(owner).filter((e) => e.after === entry.mutation_id).toArray();
  const label = { type: entry.type, id: entry.id, key: entry.key };
  if (DONE.has(status) || status === "rejected") {
    await db.outbox.delete(entry.n);
    for (const next of successors) {
      if (status === "rejected" && entry.op === "create") {
        // The record does not exist on the server: later edits join the refused create, to be fixed together.
        Object.assign(entry.fields, clone(next.fields));
        await db.outbox.delete(next.n);
        continue;
      }
      next.after = null;
      next.base_version = DONE.has(status) && result.version ? result.version : null;
      await db.outbox.put(next);
    }
  }
  if (DONE.has(status) || status === "rejected") {
    // An earlier "unknown answer" notice for this edit is settled now.
    await db.notices.where("owner").equals(owner).filter((n) => n.kind === "unknown" && n.mutation_id === entry.mutation_id).delete();
  }
  if (DONE.has(status) && status !== "amendment") {
    const rec = await db.records.get(entry.key);
    if (rec) {
      const version = result.version || (rec.server ? rec.server.version + 1 : 1);
      // Fields the server merged or kept from someone else are left out: their values come with the pull.
      const unsure = new Set([...(result.merged_fields || []), ...(result.conflicts || []).map((c) => c.field)]);
      const fields = Object.fromEntries(Object.entries(clone(entry.fields)).filter(([name]) => !unsure.has(name)));
      rec.acked = { version: Math.max(version, rec.acked?.version || 0), fields: { ...(rec.acked?.fields || {}), ...fields } };
      await db.records.put(rec);
    }
  }
  if (status === "merged" || (status === "conflict" && result.merged_fields?.length)) {
    await addNotice(owner, { kind: "merged", ...label, fields: result.merged_fields || [] });
  }
  if (status === "conflict") {
    for (const c of result.conflicts || []) {
      await addNotice(owner, {
        kind: "conflict", ...label, field: c.field, conflict_id: c.id, yours: clone(entry.fields[c.field]),
      });
    }
  } else if (status === "amendment") {
    await addNotice(owner, { kind: "amendment", ...label, amendment_id: result.amendment_id });
  } else if (status === "rejected") {
    await db.rejected.put({
      mutation_id: entry.mutation_id, owner, key: entry.key, type: entry.type, id: entry.id, op: entry.op,
      fields: clone(entry.fields), code: result.code, message: result.message, fieldErrors: result.fields || {},
      at: now(), replay: null,
    });
  } else if (status === "pending") {
    entry.lastStatus = "pending";
    await db.outbox.put(entry);
  } else if (!DONE.has(status)) {
    // An answer this app does not know: keep the edit (never lose it) and say so once.
    if (entry.lastStatus !== status) {
      await addNotice(owner, { kind: "unknown", ...label, status: String(status), mutation_id: entry.mutation_id });
    }
    entry.lastStatus = status;
    await db.outbox.put(entry);
  }
  await recompute(entry.key);
}

function wire(entry) {
  const m = {
    mutation_id: entry.mutation_id, seq: entry.seq, type: entry.type, op: entry.op, id: entry.id,
    fields: entry.fields, device_time: entry.device_time, form_version: entry.form_version,
  };
  if (entry.op !== "create" && entry.base_version) m.base_version = entry.base_version;
  if (entry.op === "create" && entry.team) m.team = entry.team;
  return m;
}

async function nextBatch(owner, deviceId) {
  return db.transaction("rw", db.outbox, db.meta, async () => {
    const entries = await db.outbox.where("owner").equals(owner).sortBy("n");
    const ids = new Set(entries.map((e) => e.mutation_id));
    const batch = [];
    for (const e of entries) {
      if (batch.length >= MAX_BATCH) break;
      if (e.after && !ids.has(e.after)) {
        e.after = null; // its predecessor is gone (answered in an earlier run)
        await db.outbox.put(e);
      }
      if (e.after) break; // waits for the answer to the edit before it
      if (!e.sent) {
        // The sequence number is given when the edit is first sent, in the order edits were made; it never changes.
        e.seq = await nextSeq(deviceId);
        e.sent = true;
        await db.outbox.put(e);
      }
      batch.push(e);
    }
    return batch;
  });
}

async function pushOutbox(owner, s) {
  for (let round = 0; round < 50; round++) {
    const batch = await nextBatch(owner, s.device_id);
    if (!batch.length) return;
    const body = await call("POST", "/api/v1/sync/push", {
      protocol: 1, app_version: APP_VERSION, mutations: batch.map(wire),
    });
    const byId = new Map(batch.map((e) => [e.mutation_id, e]));
    let progress = false;
    await db.transaction("rw", db.outbox, db.records, db.rejected, db.notices, async () => {
      for (const result of body.results || []) {
        const entry = byId.get(result.mutation_id);
        if (!entry) continue;
        const fresh = await db.outbox.get(entry.n);
        if (!fresh) continue;
        await settle(owner, fresh, result);
        if (result.status !== "pending" && (DONE.has(result.status) || result.status === "rejected")) progress = true;
      }
    });
    emit();
    if (!progress) return; // only waiting or unknown answers: try again at the next sync
  }
}

async function sendReplays(owner) {
  const queued = await db.rejected.where("owner").equals(owner).filter((r) => !!r.replay).toArray();
  for (const r of queued) {
    let result;
    try {
      result = await call("POST", `/api/v1/sync/quarantine/${r.mutation_id}/replay`, { fields: r.replay.fields });
    } catch (exc) {
      if (exc.status === 404 || (exc.status === 409 && exc.code === "not_rejected")) {
        // Already replayed (an earlier answer was lost): the pull brings the record as the server has it.
        result = { status: "applied" };
      } else {
        throw exc;
      }
    }
    await db.transaction("rw", db.records, db.outbox, db.rejected, db.notices, async () => {
      if (result.status === "rejected") {
        await db.rejected.put({
          ...r, code: result.code, message: result.message, fieldErrors: result.fields || {}, replay: null,
          fields: r.replay.fields, at: now(),
        });
      } else {
        await db.rejected.delete(r.mutation_id);
        const rec = await db.records.get(r.key);
        if (rec && result.status !== "amendment") {
          // Shown as sent until the pull brings the record back (it can lag behind).
          const version = result.version || (rec.server ? rec.server.version + 1 : 1);
          rec.acked = { version, fields: { ...(rec.acked?.fields || {}), ...clone(r.replay.fields) } };
          await db.records.put(rec);
        }
        if (result.status === "conflict" || result.status === "merged" || result.status === "amendment") {
          await settleNoticeOnly(owner, r, result);
        }
      }
      await recompute(r.key);
    });
    emit();
  }
}

async function settleNoticeOnly(owner, r, result) {
  const label = { type: r.type, id: r.id, key: r.key };
  if (result.status === "amendment") await addNotice(owner, { kind: "amendment", ...label });
  for (const c of result.conflicts || []) {
    await addNotice(owner, { kind: "conflict", ...label, field: c.field, yours: clone(r.replay.fields[c.field]) });
  }
}

async function hasOutbox(key) {
  return (await db.outbox.where("key").equals(key).count()) > 0;
}

async function pullAll(owner) {
  let cursor = await getMeta(`cursor:${owner}`);
  let resetGen = await getMeta(`reset:${owner}`);
  for (let page = 0; page < 10000; page++) {
    let body;
    const q = `/api/v1/sync/pull?protocol=1&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    try {
      body = await call("GET", q);
    } catch (exc) {
      if ((exc.status === 410 && exc.code === "cursor_expired") || (exc.status === 400 && exc.code === "invalid_cursor")) {
        // The outbox was pushed first; start again from no cursor (the reset replaces the local copy).
        cursor = null;
        await setMeta(`cursor:${owner}`, null);
        continue;
      }
      throw exc;
    }
    await db.transaction("rw", db.records, db.outbox, db.rejected, db.meta, async () => {
      if (body.reset) {
        resetGen = uuid();
        await setMeta(`reset:${owner}`, resetGen);
      }
      const removedTeams = new Set(body.removed_teams || []);
      if (removedTeams.size) {
        const gone = await db.records.where("owner").equals(owner).filter((r) => r.server && removedTeams.has(r.server.team)).toArray();
        for (const r of gone) if (!(await hasOutbox(r.key))) await db.records.delete(r.key);
      }
      for (const change of body.changes || []) {
        const key = keyOf(change.type, change.id);
        const rec = await db.records.get(key);
        if (change.op === "upsert") {
          if (rec && rec.server && rec.server.version > change.version && !resetGen) continue;
          const record = { ...change.record, type: change.type };
          await db.records.put({
            ...(rec || { key, type: change.type, id: change.id, createdAt: now() }), owner, server: record, gen: resetGen,
          });
          await recompute(key);
        } else if (rec) {
          if (await hasOutbox(key)) {
            rec.server = null; // the pending edit is sent and answered (record_deleted); the record stays visible
            await db.records.put(rec);
            await recompute(key);
          } else {
            await db.records.delete(key);
          }
        }
      }
      await setMeta(`cursor:${owner}`, body.cursor); // stored with the page it belongs to
      if (!body.has_more && resetGen) {
        const stale = await db.records.where("owner").equals(owner).filter((r) => r.server && r.gen !== resetGen).toArray();
        for (const r of stale) if (!(await hasOutbox(r.key))) await db.records.delete(r.key);
        await setMeta(`reset:${owner}`, null);
        resetGen = null;
      }
    });
    emit();
    if (!body.has_more) return;
    cursor = body.cursor;
  }
}

let running = null;
let timer = null;

export function requestSync(delay = 300) {
  clearTimeout(timer);
  timer = setTimeout(() => {
    // A background trigger during a sync waits for it to end, then runs once (an edit made meanwhile is sent).
    if (running) running.finally(() => requestSync(500));
    else sync().catch(() => {});
  }, delay);
}

// Every call asks for a sync that starts after it; calls during a sync get one more run after it.
// <body data-sync-requested data-synced> let a test (or a person with dev tools) see when it has run.
let requested = 0;
let covered = 0;

export function sync() {
  requested += 1;
  document.body.dataset.syncRequested = String(requested);
  if (!running) running = runAll();
  return running;
}

async function runAll() {
  try {
    while (covered < requested) {
      const upTo = requested;
      await runOnce();
      covered = upTo;
      document.body.dataset.synced = String(covered);
    }
  } finally {
    running = null;
  }
}

async function runOnce() {
  const s = await session();
  if (!s || state.stopped) return;
  if (!navigator.onLine) {
    state.error = "offline";
    emit();
    return;
  }
  if (state.retryAt && Date.now() < state.retryAt) return;
  state.syncing = true;
  state.error = null;
  emit();
  try {
    await sendReplays(s.username);
    await pushOutbox(s.username, s);
    await pullAll(s.username);
    await setMeta(`lastSync:${s.username}`, now());
    state.retryAt = null;
  } catch (exc) {
    await failed(exc, s);
  } finally {
    state.syncing = false;
    emit();
  }
}

async function failed(exc, s) {
  if (!(exc instanceof ApiError)) {
    state.error = "networkError";
    console.error(exc);
    return;
  }
  if (exc.status === 0) {
    state.error = "networkError";
  } else if (STOP_CODES.has(exc.code)) {
    state.stopped = exc.code;
    await setMeta(`stopped:${s.username}`, exc.code);
  } else if (exc.status === 401 || exc.code === "not_signed_in") {
    // The session ended: sign in again. The outbox and the device id stay.
    state.sessionEnded = true;
    await setMeta("session", null);
    await setMeta("lastUser", s.username);
  } else if (exc.status === 503 || exc.status === 429) {
    const seconds = exc.retryAfter || 5;
    state.retryAt = Date.now() + seconds * 1000;
    state.error = "busy";
    state.retrySeconds = seconds;
    setTimeout(() => sync().catch(() => {}), seconds * 1000 + 50);
  } else if (exc.status === 426) {
    state.stopped = "upgrade_required";
  } else {
    state.error = exc.message;
  }
}

export async function counts(owner) {
  const [outbox, rejected, notices] = await Promise.all([
    db.outbox.where("owner").equals(owner).count(),
    db.rejected.where("owner").equals(owner).count(),
    db.notices.where("owner").equals(owner).count(),
  ]);
  return { outbox, rejected, notices, lastSync: await getMeta(`lastSync:${owner}`) };
}

export { SERVER_FACTS };
