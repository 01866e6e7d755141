import { randomBytes } from "node:crypto";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FacevaultError, isFacevaultError } from "../errors.js";
import { createLogger } from "../logger.js";
import { createPostgresTemplateStore } from "../store/postgres-template-store.js";
import { createSqliteTemplateStore } from "../store/sqlite-template-store.js";
import type { Bcid, TemplateStore, TemplateStoreMaintenance } from "../store/template-store.js";
import { backfillMetadataMacs, withAuthenticatedMetadata } from "./metadata-authentication.js";
import { createTemplateSealer } from "./template-sealer.js";
import { createTemplateVault } from "./template-vault.js";

const connectionString =
  process.env.FACEVAULT_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const logger = createLogger({ level: "silent" });
const vault = createTemplateVault({
  sealer: createTemplateSealer({ masterKeys: [new Uint8Array(randomBytes(32))] }),
});

/** A tampering SQL statement on the real database: `sql` with ? (SQLite) or $n (PostgreSQL). */
type Tamper = (sql: string, ...params: unknown[]) => Promise<void>;

interface Backend {
  name: string;
  open(): Promise<TemplateStore & TemplateStoreMaintenance>;
  tamper: Tamper;
  /** The templates table, qualified. */
  table: string;
  /** A tags value literal for `["vip"]`. */
  vipTags: string;
  close(): Promise<void>;
}

const now = new Date("2026-03-04T05:06:07.089Z");
function write(bcid: Bcid, tags: string[]) {
  const features = [{ enrolledAt: now, vector: Float32Array.from({ length: 8 }, (_, i) => i) }];
  return {
    bcid,
    encoderVersion: 2,
    tags,
    createdAt: now,
    enrolledAt: now,
    featureCount: 1,
    thumbnailCount: 0,
    compact: vault.sealCompact(
      bcid,
      { encoderVersion: 2, featureCount: 1, vector: features[0]?.vector as Float32Array },
      false,
    ),
    enhanced: vault.sealEnhanced(bcid, { encoderVersion: 2, features, thumbnails: [] }),
  };
}

async function dataLoss(promise: Promise<unknown>): Promise<FacevaultError> {
  try {
    await promise;
  } catch (err) {
    if (isFacevaultError(err, "data_loss")) return err;
    throw err;
  }
  throw new Error("expected DATA_LOSS");
}

function sqliteBackend(): Backend {
  const path = `/tmp/facevault-mac-${process.pid}-${Date.now()}.db`;
  const raw = () => new Database(path);
  return {
    name: "sqlite",
    open: () => createSqliteTemplateStore({ path }),
    tamper: async (sql, ...params) => {
      const db = raw();
      db.prepare(sql).run(...params);
      db.close();
    },
    table: "templates",
    vipTags: `'["vip"]'`,
    close: async () => undefined,
  };
}

function postgresBackend(): Backend {
  const schema = `facevault_mac_${process.pid}_${Date.now().toString(36)}`;
  const client = new pg.Client({ connectionString });
  let connected: Promise<unknown> | undefined;
  return {
    name: "postgres",
    open: () => createPostgresTemplateStore({ connectionString, schema, poolSize: 2 }),
    tamper: async (sql, ...params) => {
      connected ??= client.connect();
      await connected;
      let n = 0;
      await client.query(
        sql.replace(/\?/g, () => `$${++n}`),
        params,
      );
    },
    table: `${pg.escapeIdentifier(schema)}.templates`,
    vipTags: `ARRAY['vip']`,
    close: async () => {
      connected ??= client.connect();
      await connected;
      await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
      await client.end();
    },
  };
}

describe.each([sqliteBackend(), postgresBackend()])("template metadata MAC, $name", (backend) => {
  let raw: TemplateStore & TemplateStoreMaintenance;
  let store: TemplateStore;
  const where = "storage = ? AND partition = ? AND class_id = ?";
  const key = (bcid: Bcid) => [bcid.storage, bcid.partition, bcid.classId.toString()];
  let next = 0;
  const fresh = (): Bcid => ({ storage: "mac", partition: 1, classId: BigInt(++next) });

  beforeAll(async () => {
    raw = await backend.open();
    store = withAuthenticatedMetadata(raw, vault);
  });
  afterAll(async () => {
    await raw?.close();
    await backend.close();
  });

  it("reads back what it wrote, tags changed through the store included", async () => {
    const bcid = fresh();
    await store.put(write(bcid, ["a"]), 0);
    expect((await store.get(bcid))?.tags).toEqual(["a"]);
    expect(await store.setTags(bcid, ["b", "c"])).toBe(true);
    expect((await store.get(bcid))?.tags).toEqual(["b", "c"]);
    expect(await store.setTags(fresh(), ["x"])).toBe(false);
  });

  it("answers DATA_LOSS for tags, counts, times or encoder changed in the database", async () => {
    const tampering = [
      `tags = ${backend.vipTags}`,
      "feature_count = feature_count + 5",
      "thumbnail_count = 3",
      "encoder_version = 3",
      backend.name === "sqlite" ? "enrolled_at = enrolled_at + 1000" : "enrolled_at = now()",
      "metadata_mac = NULL",
    ];
    for (const change of tampering) {
      const bcid = fresh();
      await store.put(write(bcid, ["a"]), 0);
      await backend.tamper(`UPDATE ${backend.table} SET ${change} WHERE ${where}`, ...key(bcid));
      const error = await dataLoss(store.get(bcid));
      expect(error.message, change).toMatch(`class ${bcid.classId}`);
      // A tag change does not launder a tampered row.
      await dataLoss(store.setTags(bcid, ["clean"]));
    }
  });

  it("answers DATA_LOSS for the metadata of another class copied over", async () => {
    const [victim, donor] = [fresh(), fresh()];
    await store.put(write(victim, ["a"]), 0);
    await store.put(write(donor, ["vip"]), 0);
    const donorRow = await raw.get(donor);
    await backend.tamper(
      `UPDATE ${backend.table} SET metadata_mac = ? WHERE ${where}`,
      Buffer.from(donorRow?.metadataMac ?? []),
      ...key(victim),
    );
    await dataLoss(store.get(victim));
  });

  it("gives rows written before MACs existed one at start, and only those", async () => {
    const [old, tampered] = [fresh(), fresh()];
    await raw.put(write(old, ["legacy"]), 0); // no MAC: as written by the previous version
    const before = (await raw.templatesWithoutMetadataMac(10_000)).length;
    expect(before).toBeGreaterThanOrEqual(1);
    await dataLoss(store.get(old));
    expect(await backfillMetadataMacs(raw, vault, logger)).toBe(before);
    expect((await store.get(old))?.tags).toEqual(["legacy"]);
    expect(await raw.templatesWithoutMetadataMac(10_000)).toEqual([]);
    // Later tampering is caught as for any row.
    await store.put(write(tampered, []), 0);
    await backend.tamper(
      `UPDATE ${backend.table} SET tags = ${backend.vipTags} WHERE ${where}`,
      ...key(tampered),
    );
    await dataLoss(store.get(tampered));
    expect(await backfillMetadataMacs(raw, vault, logger)).toBe(0);
  });
});
