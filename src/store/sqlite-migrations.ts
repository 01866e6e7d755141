import type { Database } from "better-sqlite3";
import { type Migration, pendingMigrations } from "./migration.js";

/**
 * SQLite schema. Times are milliseconds since the epoch; tags are a JSON array of strings.
 * STRICT tables so a class id can never be stored as text or a float.
 */
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "templates, tombstones, partition revisions, jobs",
    sql: `
      CREATE TABLE partitions (
        storage TEXT NOT NULL,
        partition INTEGER NOT NULL,
        revision INTEGER NOT NULL,
        -- tombstones with revision <= pruned_through are gone: older readers need a full reload
        pruned_through INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (storage, partition)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE templates (
        storage TEXT NOT NULL,
        partition INTEGER NOT NULL,
        class_id INTEGER NOT NULL CHECK (class_id > 0),
        encoder_version INTEGER NOT NULL,
        tags TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        enrolled_at INTEGER NOT NULL,
        feature_count INTEGER NOT NULL,
        thumbnail_count INTEGER NOT NULL,
        compact BLOB NOT NULL,
        enhanced BLOB NOT NULL,
        version INTEGER NOT NULL,
        revision INTEGER NOT NULL,
        PRIMARY KEY (storage, partition, class_id),
        FOREIGN KEY (storage, partition) REFERENCES partitions (storage, partition)
      ) STRICT;
      CREATE INDEX templates_by_revision ON templates (storage, partition, revision);

      -- A deleted class: no biometric data, only where it was and when (revision).
      CREATE TABLE tombstones (
        storage TEXT NOT NULL,
        partition INTEGER NOT NULL,
        class_id INTEGER NOT NULL,
        revision INTEGER NOT NULL,
        PRIMARY KEY (storage, partition, class_id),
        FOREIGN KEY (storage, partition) REFERENCES partitions (storage, partition)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX tombstones_by_revision ON tombstones (storage, partition, revision);

      CREATE TABLE jobs (
        seq INTEGER PRIMARY KEY,
        job_id TEXT NOT NULL UNIQUE,
        client_id TEXT NOT NULL,
        reference_number TEXT,
        method TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        duration_ms REAL NOT NULL,
        outcome INTEGER NOT NULL,
        image_count INTEGER NOT NULL,
        performed_action TEXT
      ) STRICT;
      CREATE INDEX jobs_by_time ON jobs (received_at, seq);
      CREATE INDEX jobs_by_client_time ON jobs (client_id, received_at, seq);
    `,
  },
  {
    version: 2,
    name: "search snapshots",
    sql: `
      -- Sealed chunks of a partition's search index as of a revision (quantized codes: derived
      -- biometric data); removed with any delete of the partition.
      CREATE TABLE search_snapshots (
        storage TEXT NOT NULL,
        partition INTEGER NOT NULL,
        chunk INTEGER NOT NULL,
        chunks INTEGER NOT NULL,
        revision INTEGER NOT NULL,
        format TEXT NOT NULL,
        bytes BLOB NOT NULL,
        PRIMARY KEY (storage, partition, revision, chunk),
        FOREIGN KEY (storage, partition) REFERENCES partitions (storage, partition)
      ) STRICT;
    `,
  },
  {
    version: 3,
    name: "template metadata MAC",
    sql: `
      -- HMAC of a template's metadata columns under a key derived from its enhanced blob's data
      -- key (see TemplateVault): tags and counts changed in the database fail like a tampered
      -- blob. NULL only until the server's start-up backfill has given old rows one.
      ALTER TABLE templates ADD COLUMN metadata_mac BLOB;
    `,
  },
  {
    version: 4,
    name: "search snapshot chunks by class id range",
    sql: `
      -- Each chunk holds the classes of one class id range, so a delete erases only the chunk
      -- that can hold the class (bytes NULL: cleared) instead of the whole snapshot. Each write
      -- has its own random id, so it can go in over several transactions (chunk 0 last) without
      -- mixing with another. Snapshots are caches; the ones made before are dropped.
      DROP TABLE search_snapshots;
      CREATE TABLE search_snapshots (
        storage TEXT NOT NULL,
        partition INTEGER NOT NULL,
        snapshot_id INTEGER NOT NULL,
        chunk INTEGER NOT NULL,
        chunks INTEGER NOT NULL,
        revision INTEGER NOT NULL,
        format TEXT NOT NULL,
        first_class_id INTEGER NOT NULL,
        last_class_id INTEGER NOT NULL,
        bytes BLOB,
        PRIMARY KEY (storage, partition, snapshot_id, chunk),
        FOREIGN KEY (storage, partition) REFERENCES partitions (storage, partition)
      ) STRICT;
    `,
  },
];

/**
 * Applies pending migrations in one BEGIN IMMEDIATE transaction: a second process migrating the
 * same file at the same time waits (busy timeout) and then finds nothing left to do.
 */
export function migrateSqlite(db: Database, migrations: readonly Migration[] = SQLITE_MIGRATIONS) {
  db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at INTEGER NOT NULL
    ) STRICT`);
    const applied = db
      .prepare<[], number>("SELECT version FROM schema_migrations")
      .pluck()
      .safeIntegers(false)
      .all();
    const record = db.prepare<[number, string, number]>(
      "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
    );
    for (const migration of pendingMigrations(migrations, applied)) {
      db.exec(migration.sql);
      record.run(migration.version, migration.name, Date.now());
    }
  }).immediate();
}

/** Applied migration versions, ascending. */
export function sqliteMigrationVersions(db: Database): number[] {
  return db
    .prepare<[], number>("SELECT version FROM schema_migrations ORDER BY version")
    .pluck()
    .safeIntegers(false)
    .all();
}
