// The app's database (docs/watermelondb.md, "1. The database"). Run as written by tests/watermelon/js.
const crypto = require('crypto')
const { Database, Model, appSchema, tableSchema } = require('@nozbe/watermelondb')
const { schemaMigrations } = require('@nozbe/watermelondb/Schema/migrations')
const { setGenerator } = require('@nozbe/watermelondb/utils/common/randomId')

// Record ids are UUIDs in lowercase canonical form: the server rejects any other id with 400 invalid_id.
setGenerator(() => crypto.randomUUID())

// Migrations: none yet. An app upgrade that adds tables or columns adds a step here (addColumns, createTable)
// and bumps the schema version; synchronize() then asks the server for those tables whole (migration sync).
// WatermelonDB refuses migrationsEnabledAtVersion without a migrations object on the adapter.
const migrations = schemaMigrations({ migrations: [] })

// One Model per table. Sync needs only the table name; add @field, @date, @json and @relation for your
// screens. Associations let a query follow the references the server sends as `<field>_id`.
class Shift extends Model {
  static table = 'shifts'
}
class Engagement extends Model {
  static table = 'engagements'
  static associations = { shifts: { type: 'belongs_to', key: 'shift_id' } }
}
class Incident extends Model {
  static table = 'incidents'
  static associations = { scene_responses: { type: 'has_many', foreignKey: 'incident_id' } }
}
class SceneResponse extends Model {
  static table = 'scene_responses'
  static associations = {
    incidents: { type: 'belongs_to', key: 'incident_id' },
    shifts: { type: 'belongs_to', key: 'shift_id' },
  }
}
class FollowUpCase extends Model {
  static table = 'follow_up_cases'
  static associations = { contact_attempts: { type: 'has_many', foreignKey: 'case_id' } }
}
class ContactAttempt extends Model {
  static table = 'contact_attempts'
  static associations = { follow_up_cases: { type: 'belongs_to', key: 'case_id' } }
}
const modelClasses = [Shift, Engagement, Incident, SceneResponse, FollowUpCase, ContactAttempt]

// serverSchema: GET /api/v1/sync/watermelon/schema, saved with the app (regenerate it on upgrades).
// makeAdapter: in React Native, (options) => new SQLiteAdapter({ ...options, jsi: true }).
function makeDatabase(serverSchema, makeAdapter) {
  const schema = appSchema({
    version: serverSchema.version,
    tables: serverSchema.tables.map((table) => tableSchema(table)),
  })
  const adapter = makeAdapter({ schema, migrations })
  return new Database({ adapter, modelClasses })
}

module.exports = { makeDatabase, modelClasses, migrations }
