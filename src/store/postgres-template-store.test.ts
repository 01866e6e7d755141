import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTemplateStore } from "./create-template-store.js";
import { migratePostgres, POSTGRES_MIGRATIONS } from "./postgres-migrations.js";
import { createPostgresTemplateStore } from "./postgres-template-store.js";
import {
  describeTemplateStoreContract,
  rejection,
  templateWrite,
} from "./template-store.contract.js";

const connectionString =
  process.env.FACEVAULT_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
/** Every schema this file creates, dropped at the end. */
const schemas: string[] = [];
const freshSchema = () => {
  // Unique per run and per call; the store layer keeps away from node:crypto, tests included.
  const schema = `facevault_test_${process.pid}_${Date.now().toString(36)}_${schemas.length}`;
  schemas.push(schema);
  return schema;
};

const admin = new pg.Client({ connectionString });
beforeAll(() => admin.connect());
afterAll(async () => {
  for (const schema of schemas) {
    await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  }
  await admin.end();
});

const contractSchema = freshSchema();
describeTemplateStoreContract("postgres", {
  // Several pool connections, so concurrent callers really run in parallel transactions.
  open: () =>
    createPostgresTemplateStore({ connectionString, schema: contractSchema, poolSize: 6 }),
});

describe("postgres template store", () => {
  it("migrates a new schema once when several stores start at the same time", async () => {
    const schema = freshSchema();
    const stores = await Promise.all(
      Array.from({ length: 4 }, () =>
        createPostgresTemplateStore({ connectionString, schema, poolSize: 1 }),
      ),
    );
    try {
      const recorded = await admin.query(
        `SELECT version FROM ${pg.escapeIdentifier(schema)}.schema_migrations`,
      );
      expect(recorded.rows).toEqual([1, 2, 3, 4].map((version) => ({ version })));
      for (const store of stores) expect(await store.migrationVersions()).toEqual([1, 2, 3, 4]);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  it("upgrades a schema of migration 3: its snapshots, which have no ranges, are dropped", async () => {
    const schema = freshSchema();
    const s = pg.escapeIdentifier(schema);
    await migratePostgres(admin, schema, POSTGRES_MIGRATIONS.slice(0, 3));
    await admin.query(`INSERT INTO ${s}.partitions (storage, partition, revision) VALUES ('main', 1, 1);
      INSERT INTO ${s}.search_snapshots (storage, partition, chunk, chunks, revision, format, bytes)
        VALUES ('main', 1, 0, 1, 1, 'v1', '\\x0102')`);
    const store = await createPostgresTemplateStore({ connectionString, schema });
    try {
      expect(await store.migrationVersions()).toEqual([1, 2, 3, 4]);
      expect(await store.searchSnapshot("main", 1)).toBe(undefined);
      await store.put(templateWrite({ storage: "main", partition: 1, classId: 1n }), 0);
      const chunks = [{ firstClassId: 1n, lastClassId: 1n, bytes: new Uint8Array([1, 2, 3]) }];
      expect(await store.putSearchSnapshot("main", 1, { revision: 2, format: "v1", chunks })).toBe(
        true,
      );
    } finally {
      await store.close();
    }
  });

  it("stores class ids as int64 and leaves a tombstone without biometric columns", async () => {
    const schema = freshSchema();
    const store = await createPostgresTemplateStore({ connectionString, schema });
    const s = pg.escapeIdentifier(schema);
    try {
      const bcid = { storage: "main", partition: 2, classId: 2n ** 63n - 1n };
      await store.put(templateWrite(bcid), 0);
      const stored = await admin.query(
        `SELECT class_id::text AS id, pg_typeof(class_id)::text AS type FROM ${s}.templates`,
      );
      expect(stored.rows).toEqual([{ id: "9223372036854775807", type: "bigint" }]);

      expect(await store.delete(bcid)).toBe(true);
      expect((await admin.query(`SELECT 1 FROM ${s}.templates`)).rowCount).toBe(0);
      const columns = await admin.query(
        `SELECT column_name FROM information_schema.columns
         WHERE table_schema = $1 AND table_name = 'tombstones' ORDER BY ordinal_position`,
        [schema],
      );
      expect(columns.rows.map((row) => row.column_name)).toEqual([
        "storage",
        "partition",
        "class_id",
        "revision",
      ]);
      const tombstones = await admin.query(
        `SELECT storage, partition, class_id::text AS class_id, revision::int FROM ${s}.tombstones`,
      );
      expect(tombstones.rows).toEqual([
        { storage: "main", partition: 2, class_id: "9223372036854775807", revision: 2 },
      ]);
    } finally {
      await store.close();
    }
  });

  it("refuses a schema migrated by a newer facevault", async () => {
    const schema = freshSchema();
    await (await createPostgresTemplateStore({ connectionString, schema })).close();
    await admin.query(
      `INSERT INTO ${pg.escapeIdentifier(schema)}.schema_migrations (version, name) VALUES (999, 'x')`,
    );
    const error = await rejection(createPostgresTemplateStore({ connectionString, schema }));
    expect(error.kind).toBe("failed_precondition");
  });

  it("rejects a schema name that is not a plain identifier", async () => {
    for (const schema of ['bad"name', "1abc", "", "a;drop"]) {
      const error = await rejection(createPostgresTemplateStore({ connectionString, schema }));
      expect(error.kind).toBe("invalid_argument");
    }
  });

  it("reports an unreachable server as unavailable", async () => {
    const error = await rejection(
      createPostgresTemplateStore({
        connectionString: "postgres://postgres@127.0.0.1:1/none",
        connectionTimeoutMs: 2000,
      }),
    );
    expect(error.kind).toBe("unavailable");
  });

  it("is what createTemplateStore opens for a postgres:// URL", async () => {
    const schema = freshSchema();
    const store = await createTemplateStore({ database: connectionString, schema, poolSize: 2 });
    try {
      expect(store.kind).toBe("postgres");
      const exists = await admin.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema]);
      expect(exists.rowCount).toBe(1);
    } finally {
      await store.close();
    }
  });
});
