import pg from "pg";
import { FacevaultError, isFacevaultError } from "../errors.js";
import { ENVELOPE_HEADER_BYTES } from "../templates/template-sealer.js";
import type { JobLog } from "./job-log.js";
import { createPostgresJobLog } from "./postgres-job-log.js";
import { migratePostgres, postgresMigrationVersions } from "./postgres-migrations.js";
import { bytesOf, partitionSummaryOf } from "./row-mapping.js";
import { newSnapshotId } from "./snapshot-id.js";
import { createStoreOperation, noArguments } from "./store-operation.js";
import {
  MAX_CLASS_ID,
  validateBatch,
  validateBcid,
  validateClassIds,
  validateCompactPage,
  validateMacUpdate,
  validateResealedChunk,
  validateSinceRevision,
  validateSnapshot,
  validateSnapshotChunk,
  validateStoragePartition,
  validateTags,
  validateTemplateListing,
  validateTemplateWrite,
  versionConflict,
} from "./store-validation.js";
import type { TemplateCatalog, TemplateSummary } from "./template-catalog.js";
import type {
  Bcid,
  CompactEntry,
  MetadataMacUpdate,
  PartitionChanges,
  StoredSnapshotChunk,
  StoredTemplate,
  TemplateStore,
  TemplateStoreMaintenance,
  TemplateWrite,
} from "./template-store.js";

export interface PostgresTemplateStoreOptions {
  /** `postgres://user:password@host:port/database`; any libpq-style URL pg accepts. */
  connectionString: string;
  /** Schema holding every table, created (with the tables) when missing. Default `facevault`. */
  schema?: string;
  /** Most pooled connections. Default 10. */
  poolSize?: number;
  /** How long to wait for a pooled connection, in milliseconds. Default 10,000. */
  connectionTimeoutMs?: number;
  /** Server-side limit on one statement, in milliseconds. Default 30,000. */
  statementTimeoutMs?: number;
  /** Told when an idle pooled connection fails; the pool drops it. Default: ignored. */
  onIdleError?: (err: Error) => void;
}

export type PostgresTemplateStore = TemplateStore &
  JobLog &
  TemplateCatalog &
  TemplateStoreMaintenance & { kind: "postgres" };

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

interface TemplateRow {
  storage: string;
  partition: number;
  class_id: string;
  encoder_version: number;
  tags: string[];
  created_at: Date;
  enrolled_at: Date;
  feature_count: number;
  thumbnail_count: number;
  compact: Buffer;
  enhanced: Buffer;
  version: number;
  metadata_mac: Buffer | null;
}

interface CompactRow {
  class_id: string;
  encoder_version: number;
  tags: string[];
  compact: Buffer;
}

interface Transaction {
  client: pg.PoolClient;
  /** End with ROLLBACK instead of COMMIT. */
  rollback(): void;
}

/**
 * A TemplateStore in PostgreSQL (pg Pool), shareable by any number of processes.
 *
 * Every write to a partition first increments that partition's revision counter row
 * (`INSERT .. ON CONFLICT DO UPDATE`) and holds its row lock until commit. Writers of one
 * partition are therefore serialized and commit in revision order, so a reader whose snapshot
 * shows revision R also sees every change numbered <= R, and none numbered above it.
 * `partitionChanges` reads the counter and the rows in one REPEATABLE READ snapshot.
 * class_id is int64 on the wire and in JS (bigint); it is sent and received as text, never as a
 * JS number.
 */
export async function createPostgresTemplateStore(
  options: PostgresTemplateStoreOptions,
): Promise<PostgresTemplateStore> {
  const schema = options.schema ?? "facevault";
  const poolSize = options.poolSize ?? 10;
  const connectionTimeoutMs = options.connectionTimeoutMs ?? 10_000;
  const statementTimeoutMs = options.statementTimeoutMs ?? 30_000;
  const onIdleError = options.onIdleError ?? (() => undefined);
  if (!SCHEMA_NAME.test(schema)) {
    throw new FacevaultError(
      "invalid_argument",
      "schema must be a plain SQL identifier (letters, digits, underscore; at most 63)",
      { field: "schema" },
    );
  }
  if (!Number.isInteger(poolSize) || poolSize < 1) {
    throw new FacevaultError("invalid_argument", "poolSize must be a positive integer", {
      field: "poolSize",
    });
  }

  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: poolSize,
    connectionTimeoutMillis: connectionTimeoutMs,
    statement_timeout: statementTimeoutMs,
    application_name: "facevault",
  });
  // Without a listener an idle connection's error (server restart) would crash the process.
  pool.on("error", onIdleError);
  try {
    const client = await pool.connect();
    try {
      await migratePostgres(client, schema);
    } finally {
      client.release();
    }
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw asStoreError(err, "open");
  }

  const s = pg.escapeIdentifier(schema);
  const key = "storage = $1 AND partition = $2 AND class_id = $3";
  const columns = `storage, partition, class_id, encoder_version, tags, created_at, enrolled_at,
    feature_count, thumbnail_count, compact, enhanced, version, metadata_mac`;
  const sql = {
    get: `SELECT ${columns} FROM ${s}.templates WHERE ${key}`,
    bumpRevision: `INSERT INTO ${s}.partitions AS p (storage, partition, revision) VALUES ($1, $2, 1)
      ON CONFLICT (storage, partition) DO UPDATE SET revision = p.revision + 1
      RETURNING revision`,
    insert: `INSERT INTO ${s}.templates (${columns}, revision)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $13)
      ON CONFLICT DO NOTHING`,
    update: `UPDATE ${s}.templates SET encoder_version = $4, tags = $5, created_at = $6,
        enrolled_at = $7, feature_count = $8, thumbnail_count = $9, compact = $10, enhanced = $11,
        metadata_mac = $12, version = version + 1, revision = $13
      WHERE ${key} AND version = $14`,
    setTags: `UPDATE ${s}.templates SET tags = $4, version = version + 1, revision = $5
      WHERE ${key}`,
    setTagsAndMac: `UPDATE ${s}.templates SET tags = $4, version = version + 1, revision = $5,
        metadata_mac = $6
      WHERE ${key} AND version = $7`,
    exists: `SELECT 1 FROM ${s}.templates WHERE ${key}`,
    partitions: `SELECT p.storage, p.partition, p.revision, count(t.class_id) AS templates,
        coalesce(sum(t.feature_count), 0) AS features,
        coalesce(sum(t.thumbnail_count), 0) AS thumbnails
      FROM ${s}.partitions p LEFT JOIN ${s}.templates t USING (storage, partition)
      GROUP BY p.storage, p.partition ORDER BY p.storage, p.partition`,
    listTemplates: `SELECT storage, partition, class_id, encoder_version, tags, created_at,
        enrolled_at, feature_count, thumbnail_count, version, metadata_mac,
        substring(enhanced from 1 for ${ENVELOPE_HEADER_BYTES}) AS enhanced
      FROM ${s}.templates
      WHERE storage = $1 AND partition = $2 AND class_id > $3 AND ($4::text IS NULL OR $4 = ANY(tags))
      ORDER BY class_id LIMIT $5`,
    countTemplates: `SELECT count(*) AS total FROM ${s}.templates
      WHERE storage = $1 AND partition = $2 AND ($3::text IS NULL OR $3 = ANY(tags))`,
    withoutMac: `SELECT ${columns} FROM ${s}.templates WHERE metadata_mac IS NULL LIMIT $1`,
    setMac: `UPDATE ${s}.templates SET metadata_mac = $4
      WHERE ${key} AND version = $5 AND metadata_mac IS NULL`,
    delete: `DELETE FROM ${s}.templates WHERE ${key}`,
    clearTombstone: `DELETE FROM ${s}.tombstones WHERE ${key}`,
    putTombstone: `INSERT INTO ${s}.tombstones (storage, partition, class_id, revision)
      VALUES ($1, $2, $3, $4)
      ON CONFLICT (storage, partition, class_id) DO UPDATE SET revision = excluded.revision`,
    partition: `SELECT revision, pruned_through FROM ${s}.partitions
      WHERE storage = $1 AND partition = $2`,
    allCompact: `SELECT class_id, encoder_version, tags, compact FROM ${s}.templates
      WHERE storage = $1 AND partition = $2 ORDER BY class_id`,
    compactSince: `SELECT class_id, encoder_version, tags, compact FROM ${s}.templates
      WHERE storage = $1 AND partition = $2 AND revision > $3 ORDER BY class_id`,
    compactPage: `SELECT class_id, encoder_version, tags, compact FROM ${s}.templates
      WHERE storage = $1 AND partition = $2 AND class_id > $3 AND class_id <= $5
      ORDER BY class_id LIMIT $4`,
    compactByIds: `SELECT class_id, encoder_version, tags, compact FROM ${s}.templates
      WHERE storage = $1 AND partition = $2 AND class_id = ANY($3::bigint[])`,
    lockPartition: `SELECT revision, pruned_through FROM ${s}.partitions
      WHERE storage = $1 AND partition = $2 FOR UPDATE`,
    laterDelete: `SELECT 1 FROM ${s}.tombstones
      WHERE storage = $1 AND partition = $2 AND revision > $3 LIMIT 1`,
    // The chunk whose range holds a deleted class loses its rows.
    clearChunk: `UPDATE ${s}.search_snapshots SET bytes = NULL
      WHERE storage = $1 AND partition = $2 AND first_class_id <= $3 AND last_class_id >= $3
        AND bytes IS NOT NULL`,
    clearOtherSnapshots: `DELETE FROM ${s}.search_snapshots
      WHERE storage = $1 AND partition = $2 AND snapshot_id <> $3`,
    insertChunk: `INSERT INTO ${s}.search_snapshots (storage, partition, snapshot_id, chunk, chunks,
        revision, format, first_class_id, last_class_id, bytes)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    resealChunk: `UPDATE ${s}.search_snapshots SET bytes = $5
      WHERE storage = $1 AND partition = $2 AND snapshot_id = $3 AND chunk = $4
        AND bytes IS NOT NULL`,
    snapshotInfo: `SELECT snapshot_id, revision, format, chunks FROM ${s}.search_snapshots
      WHERE storage = $1 AND partition = $2 AND chunk = 0 ORDER BY revision DESC LIMIT 1`,
    // Base64 without line breaks: pg decodes bytea from hex text, which for megabytes is far
    // slower (and twice the bytes on the wire) than Buffer.from(base64).
    snapshotChunk: `SELECT first_class_id, last_class_id,
        translate(encode(bytes, 'base64'), E'\n', '') AS bytes
      FROM ${s}.search_snapshots
      WHERE storage = $1 AND partition = $2 AND snapshot_id = $3 AND chunk = $4`,
    deletesSince: `SELECT class_id FROM ${s}.tombstones
      WHERE storage = $1 AND partition = $2 AND revision > $3 ORDER BY class_id`,
    markPruned: `UPDATE ${s}.partitions SET pruned_through = GREATEST(pruned_through, LEAST(revision, $3))
      WHERE storage = $1 AND partition = $2`,
    prune: `DELETE FROM ${s}.tombstones WHERE storage = $1 AND partition = $2 AND revision <= $3`,
  };

  let closed = false;
  let ended: Promise<void> | undefined;

  const operation = createStoreOperation({ isClosed: () => closed, asStoreError });
  const jobLog = createPostgresJobLog(pool, s, operation, (err) => pgCode(err) === "23505");

  async function transaction<T>(begin: string, body: (tx: Transaction) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    let rollback = false;
    try {
      await client.query(begin);
      const result = await body({
        client,
        rollback: () => {
          rollback = true;
        },
      });
      await client.query(rollback ? "ROLLBACK" : "COMMIT");
      client.release();
      return result;
    } catch (err) {
      try {
        await client.query("ROLLBACK");
        client.release();
      } catch (rollbackError) {
        // The connection is unusable: destroy it rather than return it to the pool.
        client.release(rollbackError as Error);
      }
      throw err;
    }
  }

  /** Increments the partition's revision and holds its row lock until the transaction ends. */
  async function bumpRevision(tx: Transaction, storage: string, partition: number) {
    const result = await tx.client.query<{ revision: string }>(sql.bumpRevision, [
      storage,
      partition,
    ]);
    return Number(result.rows[0]?.revision);
  }

  return {
    kind: "postgres",

    get: operation("get", validateBcid, async (bcid) => {
      const result = await pool.query<TemplateRow>(sql.get, keyParams(bcid));
      const row = result.rows[0];
      return row === undefined ? undefined : templateOf(row);
    }),

    put: operation("put", validateTemplateWrite, async (template, expectedVersion) => {
      const { bcid } = template;
      return transaction("BEGIN", async (tx) => {
        const revision = await bumpRevision(tx, bcid.storage, bcid.partition);
        const values = [
          ...keyParams(bcid),
          ...templateParams(template),
          template.metadataMac ?? null,
          revision,
        ];
        if (expectedVersion === 0) {
          const inserted = await tx.client.query(sql.insert, values);
          if (inserted.rowCount === 0) throw versionConflict(bcid, expectedVersion);
          await tx.client.query(sql.clearTombstone, keyParams(bcid));
          return 1;
        }
        const updated = await tx.client.query(sql.update, [...values, expectedVersion]);
        if (updated.rowCount === 0) throw versionConflict(bcid, expectedVersion);
        return expectedVersion + 1;
      });
    }),

    setTags: operation(
      "setTags",
      (bcid: Bcid, tags: string[], metadata?: MetadataMacUpdate) => {
        validateBcid(bcid);
        validateTags(tags);
        if (metadata !== undefined) validateMacUpdate(metadata);
      },
      async (bcid, tags, metadata) => {
        // Revision first even when the template may be missing: every writer takes the
        // partition lock before any template row lock, so writers cannot deadlock.
        return transaction("BEGIN", async (tx) => {
          const revision = await bumpRevision(tx, bcid.storage, bcid.partition);
          const params = [...keyParams(bcid), tags, revision];
          const updated =
            metadata === undefined
              ? await tx.client.query(sql.setTags, params)
              : await tx.client.query(sql.setTagsAndMac, [
                  ...params,
                  metadata.metadataMac,
                  metadata.expectedVersion,
                ]);
          if (updated.rowCount === 1) return true;
          tx.rollback();
          if (metadata === undefined) return false;
          const exists = await tx.client.query(sql.exists, keyParams(bcid));
          if (exists.rowCount === 0) return false;
          throw versionConflict(bcid, metadata.expectedVersion);
        });
      },
    ),

    delete: operation("delete", validateBcid, async (bcid) => {
      return transaction("BEGIN", async (tx) => {
        const revision = await bumpRevision(tx, bcid.storage, bcid.partition);
        const deleted = await tx.client.query(sql.delete, keyParams(bcid));
        if (deleted.rowCount === 0) {
          tx.rollback();
          return false;
        }
        await tx.client.query(sql.putTombstone, [...keyParams(bcid), revision]);
        // The snapshot chunk that holds the deleted class's codes goes with it.
        await tx.client.query(sql.clearChunk, keyParams(bcid));
        return true;
      });
    }),

    partitionChanges: operation(
      "partitionChanges",
      (storage: string, partition: number, sinceRevision: number) => {
        validateStoragePartition(storage, partition);
        validateSinceRevision(sinceRevision);
      },
      async (storage, partition, sinceRevision): Promise<PartitionChanges> => {
        return transaction(
          "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
          async ({ client }) => {
            const state = await client.query<{ revision: string; pruned_through: string }>(
              sql.partition,
              [storage, partition],
            );
            const row = state.rows[0];
            const revision = row === undefined ? 0 : Number(row.revision);
            const prunedThrough = row === undefined ? 0 : Number(row.pruned_through);
            const full =
              sinceRevision === 0 || sinceRevision > revision || sinceRevision < prunedThrough;
            if (full) {
              const all = await client.query<CompactRow>(sql.allCompact, [storage, partition]);
              return { revision, upserts: all.rows.map(compactEntryOf), deletes: [], full };
            }
            const since = [storage, partition, sinceRevision];
            const upserts = await client.query<CompactRow>(sql.compactSince, since);
            const deletes = await client.query<{ class_id: string }>(sql.deletesSince, since);
            return {
              revision,
              upserts: upserts.rows.map(compactEntryOf),
              deletes: deletes.rows.map((deleted) => BigInt(deleted.class_id)),
              full,
            };
          },
        );
      },
    ),

    compactPage: operation(
      "compactPage",
      (
        storage: string,
        partition: number,
        afterClassId: bigint,
        limit: number,
        throughClassId?: bigint,
      ) => {
        validateStoragePartition(storage, partition);
        validateCompactPage(afterClassId, limit, throughClassId);
      },
      async (storage, partition, afterClassId, limit, throughClassId = MAX_CLASS_ID) => {
        return transaction(
          "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
          async ({ client }) => {
            const state = await client.query<{ revision: string }>(sql.partition, [
              storage,
              partition,
            ]);
            const rows = await client.query<CompactRow>(sql.compactPage, [
              storage,
              partition,
              afterClassId.toString(),
              limit,
              throughClassId.toString(),
            ]);
            const revision = state.rows[0] === undefined ? 0 : Number(state.rows[0].revision);
            return { revision, entries: rows.rows.map(compactEntryOf) };
          },
        );
      },
    ),

    compactTemplates: operation(
      "compactTemplates",
      (storage: string, partition: number, classIds: readonly bigint[]) => {
        validateStoragePartition(storage, partition);
        validateClassIds(classIds);
      },
      async (storage, partition, classIds) => {
        if (classIds.length === 0) return [];
        const ids = [...new Set(classIds)].map(String);
        const result = await pool.query<CompactRow>(sql.compactByIds, [storage, partition, ids]);
        return result.rows.map(compactEntryOf);
      },
    ),

    putSearchSnapshot: operation(
      "putSearchSnapshot",
      validateSnapshot,
      async (storage, partition, snapshot) => {
        const { chunks, revision, format } = snapshot;
        const exists = await pool.query(sql.partition, [storage, partition]);
        if (exists.rowCount === 0) return false; // partition rows are never removed
        const id = newSnapshotId();
        return transaction("BEGIN", async (tx) => {
          // The chunks go in first, without the partition lock: writers of the partition wait
          // only for the short check below, not for megabytes of inserts.
          for (const [i, c] of chunks.entries()) {
            await tx.client.query(sql.insertChunk, [
              storage,
              partition,
              id,
              i,
              chunks.length,
              revision,
              format,
              c.firstClassId.toString(),
              c.lastClassId.toString(),
              c.bytes,
            ]);
          }
          // Every writer locks this row first (bumpRevision): a delete either committed before
          // (its tombstone shows) or waits and then clears its class's chunk here too.
          const state = await tx.client.query<{ revision: string; pruned_through: string }>(
            sql.lockPartition,
            [storage, partition],
          );
          const row = state.rows[0];
          const later = await tx.client.query(sql.laterDelete, [storage, partition, revision]);
          if (
            row === undefined ||
            revision > Number(row.revision) ||
            revision < Number(row.pruned_through) ||
            (later.rowCount ?? 0) > 0
          ) {
            tx.rollback();
            return false;
          }
          await tx.client.query(sql.clearOtherSnapshots, [storage, partition, id]);
          return true;
        });
      },
    ),

    resealSearchSnapshotChunk: operation(
      "resealSearchSnapshotChunk",
      validateResealedChunk,
      async (storage, partition, snapshotId, chunk, bytes) => {
        const result = await pool.query(sql.resealChunk, [
          storage,
          partition,
          snapshotId,
          chunk,
          bytes,
        ]);
        return (result.rowCount ?? 0) > 0;
      },
    ),

    searchSnapshot: operation(
      "searchSnapshot",
      validateStoragePartition,
      async (storage, partition) => {
        const result = await pool.query<{
          snapshot_id: string;
          revision: string;
          format: string;
          chunks: number;
        }>(sql.snapshotInfo, [storage, partition]);
        const row = result.rows[0];
        return row === undefined
          ? undefined
          : {
              id: Number(row.snapshot_id),
              revision: Number(row.revision),
              format: row.format,
              chunks: row.chunks,
            };
      },
    ),

    searchSnapshotChunk: operation(
      "searchSnapshotChunk",
      validateSnapshotChunk,
      async (storage, partition, snapshotId, chunk): Promise<StoredSnapshotChunk | undefined> => {
        const result = await pool.query<{
          first_class_id: string;
          last_class_id: string;
          bytes: string | null;
        }>(sql.snapshotChunk, [storage, partition, snapshotId, chunk]);
        const row = result.rows[0];
        if (row === undefined) return undefined;
        const range = {
          firstClassId: BigInt(row.first_class_id),
          lastClassId: BigInt(row.last_class_id),
        };
        return row.bytes === null
          ? range
          : { ...range, bytes: bytesOf(Buffer.from(row.bytes, "base64")) };
      },
    ),

    ...jobLog,

    pruneTombstones: operation(
      "pruneTombstones",
      (storage: string, partition: number, throughRevision: number) => {
        validateStoragePartition(storage, partition);
        validateSinceRevision(throughRevision);
      },
      async (storage, partition, throughRevision) => {
        return transaction("BEGIN", async ({ client }) => {
          const params = [storage, partition, throughRevision];
          await client.query(sql.markPruned, params);
          return (await client.query(sql.prune, params)).rowCount ?? 0;
        });
      },
    ),

    migrationVersions: operation("migrationVersions", noArguments, () =>
      postgresMigrationVersions(pool, schema),
    ),

    listPartitions: operation("listPartitions", noArguments, async () => {
      const result = await pool.query<{
        storage: string;
        partition: number;
        revision: string;
        templates: string;
        features: string;
        thumbnails: string;
      }>(sql.partitions);
      return result.rows.map(partitionSummaryOf);
    }),

    listTemplates: operation(
      "listTemplates",
      validateTemplateListing,
      async (storage, partition, { afterClassId, limit, tag }) =>
        transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", async ({ client }) => {
          const rows = await client.query<Omit<TemplateRow, "compact">>(sql.listTemplates, [
            storage,
            partition,
            afterClassId.toString(),
            tag ?? null,
            limit,
          ]);
          const count = await client.query<{ total: string }>(sql.countTemplates, [
            storage,
            partition,
            tag ?? null,
          ]);
          return {
            templates: rows.rows.map(summaryOf),
            total: Number(count.rows[0]?.total ?? 0),
          };
        }),
    ),

    templatesWithoutMetadataMac: operation(
      "templatesWithoutMetadataMac",
      validateBatch,
      async (limit) => {
        const result = await pool.query<TemplateRow>(sql.withoutMac, [limit]);
        return result.rows.map(templateOf);
      },
    ),

    setMetadataMac: operation(
      "setMetadataMac",
      (bcid: Bcid, update: MetadataMacUpdate) => {
        validateBcid(bcid);
        validateMacUpdate(update);
      },
      async (bcid, update) => {
        const params = [...keyParams(bcid), update.metadataMac, update.expectedVersion];
        return (await pool.query(sql.setMac, params)).rowCount === 1;
      },
    ),

    ping: operation("ping", noArguments, async () => {
      await pool.query("SELECT 1");
    }),

    close() {
      closed = true;
      ended ??= pool.end();
      return ended;
    },
  };
}

function keyParams(bcid: Bcid): [string, number, string] {
  return [bcid.storage, bcid.partition, bcid.classId.toString()];
}

function templateParams(template: TemplateWrite): unknown[] {
  return [
    template.encoderVersion,
    template.tags,
    template.createdAt,
    template.enrolledAt,
    template.featureCount,
    template.thumbnailCount,
    template.compact,
    template.enhanced,
  ];
}

function templateOf(row: TemplateRow): StoredTemplate {
  return {
    bcid: { storage: row.storage, partition: row.partition, classId: BigInt(row.class_id) },
    encoderVersion: row.encoder_version,
    tags: row.tags,
    createdAt: row.created_at,
    enrolledAt: row.enrolled_at,
    featureCount: row.feature_count,
    thumbnailCount: row.thumbnail_count,
    compact: bytesOf(row.compact),
    enhanced: bytesOf(row.enhanced),
    version: row.version,
    ...(row.metadata_mac === null ? {} : { metadataMac: bytesOf(row.metadata_mac) }),
  };
}

function summaryOf(row: Omit<TemplateRow, "compact">): TemplateSummary {
  const { compact: _, enhanced, ...summary } = templateOf({ ...row, compact: row.enhanced });
  return { ...summary, enhancedHeader: enhanced };
}

function compactEntryOf(row: CompactRow): CompactEntry {
  return {
    classId: BigInt(row.class_id),
    encoderVersion: row.encoder_version,
    tags: row.tags,
    compact: bytesOf(row.compact),
  };
}

function pgCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** PostgreSQL and socket errors that mean "the database cannot be reached or used now". */
const UNAVAILABLE_CODES = new Set([
  "55000", // object_not_in_prerequisite_state: e.g. the database does not allow connections
  "3D000", // invalid_catalog_name: the database does not exist (dropped, or not yet created)
  "28000", // invalid_authorization_specification
  "28P01", // invalid_password
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "53300", // too_many_connections
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
]);

function asStoreError(err: unknown, action: string): FacevaultError {
  if (isFacevaultError(err)) return err;
  const code = pgCode(err);
  const message = err instanceof Error ? err.message : "";
  if (code === "40001" || code === "40P01") {
    return new FacevaultError("aborted", `template store ${action}: concurrent conflict, retry`, {
      cause: err,
    });
  }
  if (code === "57014") {
    return new FacevaultError(
      "deadline_exceeded",
      `template store ${action}: statement timed out`,
      {
        cause: err,
      },
    );
  }
  if (
    code?.startsWith("08") ||
    (code !== undefined && UNAVAILABLE_CODES.has(code)) ||
    // pg's own words for a pool that had no free connection in time, and a lost connection.
    /timeout exceeded when trying to connect|Connection terminated|Client has encountered a connection error/i.test(
      message,
    )
  ) {
    return new FacevaultError("unavailable", `template store ${action}: database unreachable`, {
      cause: err,
    });
  }
  return new FacevaultError(
    "internal",
    `template store ${action} failed${code === undefined ? "" : ` (${code})`}`,
    { cause: err },
  );
}
