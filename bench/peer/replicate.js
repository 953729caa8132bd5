// A PouchDB client's first replication of a pouchdb-server database into a fresh local (in-memory) database,
// in batches of 500, as an offline-first app's first sync. Prints {"docs": n, "seconds": s} (the replication only).
'use strict';
const PouchDB = require('pouchdb');
PouchDB.plugin(require('pouchdb-adapter-memory'));

async function main() {
  const [remoteUrl, batch = '500'] = process.argv.slice(2);
  const local = new PouchDB(`device-${process.pid}-${Date.now()}`, { adapter: 'memory' });
  const remote = new PouchDB(remoteUrl, { skip_setup: true });
  const started = process.hrtime.bigint();
  const result = await local.replicate.from(remote, { batch_size: Number(batch), batches_limit: 1 });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const info = await local.info();
  console.log(JSON.stringify({ docs: info.doc_count, written: result.docs_written, seconds }));
}

main().catch((err) => { console.error(err); process.exit(1); });
