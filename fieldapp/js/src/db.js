// Everything the app keeps on the phone, in IndexedDB (through Dexie).
//   records: the local copy of each record: `server` (as last pulled) and `data` (server + edits not yet sent).
//   outbox: edits in the order they were made. An edit gets its `seq` when it is first sent, and is then frozen:
//           a resend after a lost answer sends exactly the same mutation.
//   rejected: edits the server refused, with its message, until they are fixed and resent.
//   notices: what happened to edits (merged, conflict, amendment), said in words.
//   meta: the device id for each person who signed in on this install, sessions, cursors, forms.
import Dexie from "dexie";

export const db = new Dexie("field-records");
db.version(1).stores({
  records: "&key, owner, type",
  outbox: "++n, owner, key, mutation_id",
  rejected: "&mutation_id, owner, key",
  notices: "++n, owner",
  meta: "&k",
});

export async function getMeta(k, fallback = null) {
  const row = await db.meta.get(k);
  return row ? row.v : fallback;
}

export function setMeta(k, v) {
  return db.meta.put({ k, v });
}

export function uuid() {
  return crypto.randomUUID();
}

export function keyOf(type, id) {
  return `${type}:${id}`;
}

/** The device id for this person on this install: made once, kept across sign-outs and reloads. */
export async function deviceIdFor(username) {
  return db.transaction("rw", db.meta, async () => {
    const devices = (await getMeta("devices")) || {};
    if (!devices[username]) {
      devices[username] = uuid();
      await setMeta("devices", devices);
    }
    return devices[username];
  });
}

/** The next sequence number of a device (1, 2, 3 …), never reused, never skipped. */
export async function nextSeq(deviceId) {
  const k = `seq:${deviceId}`;
  const n = (await getMeta(k, 0)) + 1;
  await setMeta(k, n);
  return n;
}

export async function wipeOwner(owner) {
  await db.transaction("rw", db.records, db.outbox, db.rejected, db.notices, db.meta, async () => {
    await db.records.where("owner").equals(owner).delete();
    await db.outbox.where("owner").equals(owner).delete();
    await db.rejected.where("owner").equals(owner).delete();
    await db.notices.where("owner").equals(owner).delete();
    await db.meta.delete(`cursor:${owner}`);
    await db.meta.delete(`lastSync:${owner}`);
  });
}
