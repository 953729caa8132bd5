// The two-device conflict round against pouchdb-server: two PouchDB devices hold the same n records (replicated
// first, not timed), each edits all of them offline (one a scalar, both a list), then both replicate to the server
// at once in batches of 500 (timed). Prints {"revisions": 2n, "seconds": s, "conflicted": docs with _conflicts}.
'use strict';
const PouchDB = require('pouchdb');
PouchDB.plugin(require('pouchdb-adapter-memory'));

async function main() {
  const [remoteUrl, batch = '500'] = process.argv.slice(2);
  const remote = new PouchDB(remoteUrl, { skip_setup: true });
  const devices = [0, 1].map((k) => new PouchDB(`device-${k}-${process.pid}-${Date.now()}`, { adapter: 'memory' }));
  for (const device of devices) {
    await device.replicate.from(remote, { batch_size: Number(batch) });
  }
  const edits = [['referred', 'medical'], ['transported', 'conflict']];
  for (const [k, device] of devices.entries()) {
    const all = await device.allDocs({ include_docs: true });
    const docs = all.rows.map((row) => ({ ...row.doc, disposition: edits[k][0], needs: ['housing', edits[k][1]] }));
    await device.bulkDocs(docs);
  }
  const started = process.hrtime.bigint();
  const results = await Promise.all(
    devices.map((device) => device.replicate.to(remote, { batch_size: Number(batch), batches_limit: 1 })),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const written = results.reduce((sum, r) => sum + r.docs_written, 0);
  const check = await remote.allDocs({ include_docs: true, conflicts: true });
  const conflicted = check.rows.filter((row) => row.doc._conflicts && row.doc._conflicts.length).length;
  console.log(JSON.stringify({ revisions: written, seconds, conflicted, docs: check.rows.length }));
}

main().catch((err) => { console.error(err); process.exit(1); });
