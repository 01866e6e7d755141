import pg from "pg";
import { type Migration, pendingMigrations } from "./migration.js";

/**
 * PostgreSQL schema, written for a schema placeholder `{schema}` (an already quoted identifier).
 * Blobs are sealed and do not compress: STORAGE EXTERNAL spares TOAST the attempt.
 */
export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "templates, tombstones, partition revisions, jobs",
    sql: `
      CREATE TABLE {schema}.partitions (
        storage text NOT NULL,
        partition integer NOT NULL,
        revision bigint NOT NULL,
        -- tombstones with revision <= pruned_through are gone: older readers need a full reload
        pruned_through bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (storage, partition)
      );

      CREATE TABLE {schema}.templates (
        storage text NOT NULL,
        partition integer NOT NULL,
        class_id bigint NOT NULL CHECK (class_id > 0),
        encoder_version integer NOT NULL,
        tags text[] NOT NULL,
        created_at timestamptz NOT NULL,
        enrolled_at timestamptz NOT NULL,
        feature_count integer NOT NULL,
        thumbnail_count integer NOT NULL,
        compact bytea NOT NULL,
        enhanced bytea NOT NULL,
        version integer NOT NULL,
        revision bigint NOT NULL,
        PRIMARY KEY (storage, partition, class_id),
        FOREIGN KEY (storage, partition) REFERENCES {schema}.partitions (storage, partition)
      );
      ALTER TABLE {schema}.templates
        ALTER COLUMN compact SET STORAGE EXTERNAL,
        ALTER COLUMN enhanced SET STORAGE EXTERNAL;
      CREATE INDEX templates_by_revision ON {schema}.templates (storage, partition, revision);

      -- A deleted class: no biometric data, only where it was and when (revision).
      CREATE TABLE {schema}.tombstones (
        storage text NOT NULL,
        partition integer NOT NULL,
        class_id bigint NOT NULL,
        revision bigint NOT NULL,
        PRIMARY KEY (storage, partition, class_id),
        FOREIGN KEY (storage, partition) REFERENCES {schema}.partitions (storage, partition)
      );
      CREATE INDEX tombstones_by_revision ON {schema}.tombstones (storage, partition, revision);

      CREATE TABLE {schema}.jobs (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        job_id text NOT NULL UNIQUE,
        client_id text NOT NULL,
        reference_number text,
        method text NOT NULL,
        received_at timestamptz NOT NULL,
        duration_ms double precision NOT NULL,
        outcome integer NOT NULL,
        image_count integer NOT NULL,
        performed_action text
      );
      CREATE INDEX jobs_by_time ON {schema}.jobs (received_at, seq);
      CREATE INDEX jobs_by_client_time ON {schema}.jobs (client_id, received_at, seq);
    `,
  },
  {
    version: 2,
    name: "search snapshots",
    sql: `
      -- Sealed chunks of a partition's search index as of a revision (quantized codes: derived
      -- biometric data); removed with any delete of the partition.
      CREATE TABLE {schema}.search_snapshots (
        storage text NOT NULL,
        partition integer NOT NULL,
        chunk integer NOT NULL,
        chunks integer NOT NULL,
        revision bigint NOT NULL,
        format text NOT NULL,
        bytes bytea NOT NULL,
        PRIMARY KEY (storage, partition, revision, chunk),
        FOREIGN KEY (storage, partition) REFERENCES {schema}.partitions (storage, partition)
      );
      ALTER TABLE {schema}.search_snapshots ALTER COLUMN bytes SET STORAGE EXTERNAL;
    `,
  },
  {
    version: 3,
    name: "template metadata MAC",
    sql: `
      -- HMAC of a template's metadata columns under a key derived from its enhanced blob's data
      -- key (see TemplateVault): tags and counts changed in the database fail like a tampered
      -- blob. NULL only until the server's start-up backfill has given old rows one.
      ALTER TABLE {schema}.templates ADD COLUMN metadata_mac bytea;
    `,
  },
  {
    version: 4,
    name: "search snapshot chunks by class id range",
    sql: `
      -- Each chunk holds the classes of one class id range, so a delete erases only the chunk
      -- that can hold the class (bytes NULL: cleared) instead of the whole snapshot. Each write
      -- has its own random id, so two writers' chunks never mix. Snapshots are caches; the
      -- ones made before are dropped.
      DELETE FROM {schema}.search_snapshots;
      ALTER TABLE {schema}.search_snapshots
        DROP CONSTRAINT search_snapshots_pkey,
        ADD COLUMN snapshot_id bigint NOT NULL,
        ADD COLUMN first_class_id bigint NOT NULL,
        ADD COLUMN last_class_id bigint NOT NULL,
        ALTER COLUMN bytes DROP NOT NULL,
        ADD PRIMARY KEY (storage, partition, snapshot_id, chunk);
    `,
  },
];

// First half of the two-integer advisory lock key ("FVmg"); the second half hashes the schema
// name, so stores in different schemas migrate independently.
const MIGRATION_LOCK_CLASS = 0x46566d67;

/**
 * Applies pending migrations in one transaction that holds a transaction-scoped advisory lock:
 * concurrent starters wait for the first and then find nothing left to do. Creates the schema
 * when missing.
 */
export async function migratePostgres(
  client: pg.ClientBase,
  schema: string,
  migrations: readonly Migration[] = POSTGRES_MIGRATIONS,
): Promise<void> {
  const quoted = pg.escapeIdentifier(schema);
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [
      MIGRATION_LOCK_CLASS,
      schema,
    ]);
    // Checked first so a role without CREATE on the database can use an existing schema.
    const exists = await client.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema]);
    if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${quoted}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${quoted}.schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const applied = await client.query<{ version: number }>(
      `SELECT version FROM ${quoted}.schema_migrations`,
    );
    const pending = pendingMigrations(
      migrations,
      applied.rows.map((row) => row.version),
    );
    for (const migration of pending) {
      await client.query(migration.sql.replaceAll("{schema}", quoted));
      await client.query(
        `INSERT INTO ${quoted}.schema_migrations (version, name) VALUES ($1, $2)`,
        [migration.version, migration.name],
      );
    }
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
}

/** Applied migration versions, ascending. */
export async function postgresMigrationVersions(
  client: pg.ClientBase | pg.Pool,
  schema: string,
): Promise<number[]> {
  const result = await client.query<{ version: number }>(
    `SELECT version FROM ${pg.escapeIdentifier(schema)}.schema_migrations ORDER BY version`,
  );
  return result.rows.map((row) => row.version);
}
