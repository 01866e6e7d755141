import { chmodSync, closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { FacevaultError, isFacevaultError } from "../errors.js";
import { ENVELOPE_HEADER_BYTES } from "../templates/template-sealer.js";
import type { JobLog } from "./job-log.js";
import { bytesOf, partitionSummaryOf } from "./row-mapping.js";
import { newSnapshotId } from "./snapshot-id.js";
import { createSqliteJobLog } from "./sqlite-job-log.js";
import { migrateSqlite, sqliteMigrationVersions } from "./sqlite-migrations.js";
import { createStoreOperation, noArguments } from "./store-operation.js";
import {
  MAX_CLASS_ID,
  storeClosed,
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
import type { PartitionSummary, TemplateCatalog, TemplateSummary } from "./template-catalog.js";
import type {
  Bcid,
  CompactEntry,
  MetadataMacUpdate,
  PartitionChanges,
  SearchSnapshotWrite,
  SnapshotChunkWrite,
  StoredSnapshotChunk,
  StoredTemplate,
  TemplateStore,
  TemplateStoreMaintenance,
  TemplateWrite,
} from "./template-store.js";

export interface SqliteTemplateStoreOptions {
  /** Database file; created with its schema when missing. `:memory:` for a private database. */
  path: string;
  /**
   * How long a statement waits for another connection's (or process's) write lock before it
   * fails with `unavailable`, in milliseconds. Default 5000.
   */
  busyTimeoutMs?: number;
}

export type SqliteTemplateStore = TemplateStore &
  JobLog &
  TemplateCatalog &
  TemplateStoreMaintenance & { kind: "sqlite" };

// After a delete the WAL still holds the deleted pages; the checkpoint that truncates it waits for
// readers at most this long (ms), so a delete never stalls behind another process's long read.
const DELETE_CHECKPOINT_WAIT_MS = 200;

interface TemplateRow {
  storage: string;
  partition: bigint;
  class_id: bigint;
  encoder_version: bigint;
  tags: string;
  created_at: bigint;
  enrolled_at: bigint;
  feature_count: bigint;
  thumbnail_count: bigint;
  compact: Buffer;
  enhanced: Buffer;
  version: bigint;
  metadata_mac: Buffer | null;
}

interface CompactRow {
  class_id: bigint;
  encoder_version: bigint;
  tags: string;
  compact: Buffer;
}

type Key = [storage: string, partition: number, classId: bigint];
/** Snapshot chunks stored per transaction: about 10 MB at 512-D, tens of milliseconds. */
const SNAPSHOT_CHUNKS_PER_TRANSACTION = 8;
type PartitionKey = [storage: string, partition: number];

/**
 * A TemplateStore in one SQLite file (better-sqlite3; synchronous calls behind the async
 * interface). WAL lets readers run beside the one writer; every write is a BEGIN IMMEDIATE
 * transaction, so several processes may share the file. `secure_delete` overwrites freed
 * biometric bytes, and a delete truncates the WAL, so deleted templates leave no copy on disk.
 */
export async function createSqliteTemplateStore(
  options: SqliteTemplateStoreOptions,
): Promise<SqliteTemplateStore> {
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  let db: Database.Database;
  try {
    privateFile(options.path);
    db = new Database(options.path, { timeout: busyTimeoutMs });
  } catch (cause) {
    throw new FacevaultError("unavailable", `cannot open SQLite database ${options.path}`, {
      cause,
    });
  }
  try {
    // Order matters: the busy timeout must be in place before anything that takes a lock.
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    db.pragma("journal_mode = WAL");
    // FULL: an acknowledged enrollment survives power loss, not only a process crash.
    db.pragma("synchronous = FULL");
    db.pragma("secure_delete = ON");
    db.pragma("foreign_keys = ON");
    // Integers come back as bigint, so class ids near 2^63 are never rounded.
    db.defaultSafeIntegers(true);
    migrateSqlite(db);
  } catch (cause) {
    db.close();
    throw asStoreError(cause, "open");
  }

  const columns = `storage, partition, class_id, encoder_version, tags, created_at, enrolled_at,
    feature_count, thumbnail_count, compact, enhanced, version, metadata_mac`;
  const where = "storage = ? AND partition = ? AND class_id = ?";
  const statements = {
    get: db.prepare<Key, TemplateRow>(`SELECT ${columns} FROM templates WHERE ${where}`),
    exists: db.prepare<Key>(`SELECT 1 FROM templates WHERE ${where}`),
    bumpRevision: db
      .prepare<PartitionKey, bigint>(
        `INSERT INTO partitions (storage, partition, revision) VALUES (?, ?, 1)
         ON CONFLICT (storage, partition) DO UPDATE SET revision = revision + 1
         RETURNING revision`,
      )
      .pluck(),
    insert: db.prepare<[...Key, ...TemplateValues, Uint8Array | null, number]>(
      `INSERT INTO templates (${columns}, revision)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
       ON CONFLICT DO NOTHING`,
    ),
    update: db.prepare<[...TemplateValues, Uint8Array | null, number, ...Key, number]>(
      `UPDATE templates SET encoder_version = ?, tags = ?, created_at = ?, enrolled_at = ?,
         feature_count = ?, thumbnail_count = ?, compact = ?, enhanced = ?, metadata_mac = ?,
         version = version + 1, revision = ?
       WHERE ${where} AND version = ?`,
    ),
    setTags: db.prepare<[string, number, ...Key]>(
      `UPDATE templates SET tags = ?, version = version + 1, revision = ? WHERE ${where}`,
    ),
    setTagsAndMac: db.prepare<[string, Uint8Array, number, ...Key, number]>(
      `UPDATE templates SET tags = ?, metadata_mac = ?, version = version + 1, revision = ?
       WHERE ${where} AND version = ?`,
    ),
    partitions: db.prepare<
      [],
      {
        storage: string;
        partition: bigint;
        revision: bigint;
        templates: bigint;
        features: bigint;
        thumbnails: bigint;
      }
    >(
      `SELECT p.storage, p.partition, p.revision, count(t.class_id) AS templates,
         coalesce(sum(t.feature_count), 0) AS features,
         coalesce(sum(t.thumbnail_count), 0) AS thumbnails
       FROM partitions p LEFT JOIN templates t USING (storage, partition)
       GROUP BY p.storage, p.partition ORDER BY p.storage, p.partition`,
    ),
    withoutMac: db.prepare<[number], TemplateRow>(
      `SELECT ${columns} FROM templates WHERE metadata_mac IS NULL LIMIT ?`,
    ),
    setMac: db.prepare<[Uint8Array, ...Key, number]>(
      `UPDATE templates SET metadata_mac = ?
       WHERE ${where} AND version = ? AND metadata_mac IS NULL`,
    ),
    delete: db.prepare<Key>(`DELETE FROM templates WHERE ${where}`),
    clearTombstone: db.prepare<Key>(`DELETE FROM tombstones WHERE ${where}`),
    putTombstone: db.prepare<[...Key, number]>(
      `INSERT INTO tombstones (storage, partition, class_id, revision) VALUES (?, ?, ?, ?)
       ON CONFLICT (storage, partition, class_id) DO UPDATE SET revision = excluded.revision`,
    ),
    partition: db.prepare<PartitionKey, { revision: bigint; pruned_through: bigint }>(
      "SELECT revision, pruned_through FROM partitions WHERE storage = ? AND partition = ?",
    ),
    allCompact: db.prepare<PartitionKey, CompactRow>(
      `SELECT class_id, encoder_version, tags, compact FROM templates
       WHERE storage = ? AND partition = ? ORDER BY class_id`,
    ),
    compactSince: db.prepare<[...PartitionKey, number], CompactRow>(
      `SELECT class_id, encoder_version, tags, compact FROM templates
       WHERE storage = ? AND partition = ? AND revision > ? ORDER BY class_id`,
    ),
    compactPage: db.prepare<[...PartitionKey, bigint, bigint, number], CompactRow>(
      `SELECT class_id, encoder_version, tags, compact FROM templates
       WHERE storage = ? AND partition = ? AND class_id > ? AND class_id <= ?
       ORDER BY class_id LIMIT ?`,
    ),
    // The ids travel as one JSON array: SQLite reads its integers as exact 64-bit values.
    compactByIds: db.prepare<[...PartitionKey, string], CompactRow>(
      `SELECT class_id, encoder_version, tags, compact FROM templates
       WHERE storage = ? AND partition = ? AND class_id IN (SELECT value FROM json_each(?))`,
    ),
    laterDelete: db.prepare<[...PartitionKey, number]>(
      "SELECT 1 FROM tombstones WHERE storage = ? AND partition = ? AND revision > ? LIMIT 1",
    ),
    dropOtherSnapshots: db.prepare<[...PartitionKey, number]>(
      "DELETE FROM search_snapshots WHERE storage = ? AND partition = ? AND snapshot_id <> ?",
    ),
    dropSnapshot: db.prepare<[...PartitionKey, number]>(
      "DELETE FROM search_snapshots WHERE storage = ? AND partition = ? AND snapshot_id = ?",
    ),
    stagedChunks: db
      .prepare<[...PartitionKey, number], bigint>(
        `SELECT count(*) FROM search_snapshots
         WHERE storage = ? AND partition = ? AND snapshot_id = ?`,
      )
      .pluck(),
    // The chunk whose range holds a deleted class loses its rows (secure_delete zeroes them).
    clearChunk: db.prepare<[...Key, bigint]>(
      `UPDATE search_snapshots SET bytes = NULL
       WHERE storage = ? AND partition = ? AND first_class_id <= ? AND last_class_id >= ?
         AND bytes IS NOT NULL`,
    ),
    insertChunk: db.prepare<
      [...PartitionKey, number, number, number, number, string, bigint, bigint, Uint8Array]
    >(
      `INSERT INTO search_snapshots (storage, partition, snapshot_id, chunk, chunks, revision,
         format, first_class_id, last_class_id, bytes)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    resealChunk: db.prepare<[Uint8Array, ...PartitionKey, number, number]>(
      `UPDATE search_snapshots SET bytes = ?
       WHERE storage = ? AND partition = ? AND snapshot_id = ? AND chunk = ?
         AND bytes IS NOT NULL`,
    ),
    // Chunk 0 goes in last: a snapshot is there once its chunk 0 is.
    snapshotInfo: db.prepare<
      PartitionKey,
      { snapshot_id: bigint; revision: bigint; format: string; chunks: bigint }
    >(
      `SELECT snapshot_id, revision, format, chunks FROM search_snapshots
       WHERE storage = ? AND partition = ? AND chunk = 0 ORDER BY revision DESC LIMIT 1`,
    ),
    snapshotChunk: db.prepare<
      [...PartitionKey, number, number],
      { first_class_id: bigint; last_class_id: bigint; bytes: Buffer | null }
    >(
      `SELECT first_class_id, last_class_id, bytes FROM search_snapshots
       WHERE storage = ? AND partition = ? AND snapshot_id = ? AND chunk = ?`,
    ),
    deletesSince: db
      .prepare<[...PartitionKey, number], bigint>(
        `SELECT class_id FROM tombstones
         WHERE storage = ? AND partition = ? AND revision > ? ORDER BY class_id`,
      )
      .pluck(),
    prune: db.prepare<[...PartitionKey, number]>(
      "DELETE FROM tombstones WHERE storage = ? AND partition = ? AND revision <= ?",
    ),
    markPruned: db.prepare<[number, ...PartitionKey]>(
      `UPDATE partitions SET pruned_through = max(pruned_through, min(revision, ?))
       WHERE storage = ? AND partition = ?`,
    ),
  };

  const put = db.transaction((template: TemplateWrite, expectedVersion: number): number => {
    const key = keyOf(template.bcid);
    const revision = Number(statements.bumpRevision.get(key[0], key[1]));
    const values = templateValues(template);
    const mac = template.metadataMac ?? null;
    if (expectedVersion === 0) {
      if (statements.insert.run(...key, ...values, mac, revision).changes === 0) {
        throw versionConflict(template.bcid, expectedVersion);
      }
      statements.clearTombstone.run(...key);
      return 1;
    }
    if (statements.update.run(...values, mac, revision, ...key, expectedVersion).changes === 0) {
      throw versionConflict(template.bcid, expectedVersion);
    }
    return expectedVersion + 1;
  });

  // The existence check runs under the write lock (BEGIN IMMEDIATE), so it cannot go stale; a
  // missing template therefore costs no revision.
  const setTags = db.transaction(
    (bcid: Bcid, tags: string[], metadata: MetadataMacUpdate | undefined): boolean => {
      const key = keyOf(bcid);
      if (statements.exists.get(...key) === undefined) return false;
      const revision = Number(statements.bumpRevision.get(key[0], key[1]));
      if (metadata === undefined) {
        statements.setTags.run(JSON.stringify(tags), revision, ...key);
        return true;
      }
      const { metadataMac, expectedVersion } = metadata;
      const args = [JSON.stringify(tags), metadataMac, revision, ...key, expectedVersion] as const;
      if (statements.setTagsAndMac.run(...args).changes === 0) {
        // Thrown inside the transaction: the revision bump above is rolled back with it.
        throw versionConflict(bcid, expectedVersion);
      }
      return true;
    },
  );

  const remove = db.transaction((key: Key): boolean => {
    if (statements.exists.get(...key) === undefined) return false;
    const revision = Number(statements.bumpRevision.get(key[0], key[1]));
    statements.delete.run(...key);
    statements.putTombstone.run(...key, revision);
    // The snapshot chunk that holds the deleted class's codes goes with it.
    statements.clearChunk.run(...key, key[2]);
    return true;
  });

  const snapshotRefused = (storage: string, partition: number, revision: number): boolean => {
    const state = statements.partition.get(storage, partition);
    return (
      state === undefined ||
      revision > Number(state.revision) ||
      revision < Number(state.pruned_through) ||
      statements.laterDelete.get(storage, partition, revision) !== undefined
    );
  };
  const insertChunks = db.transaction(
    (
      storage: string,
      partition: number,
      id: number,
      snapshot: SearchSnapshotWrite,
      from: number,
      to: number,
    ) => {
      const { chunks, revision, format } = snapshot;
      for (let i = from; i < to; i++) {
        const c = chunks[i] as SnapshotChunkWrite;
        statements.insertChunk.run(
          storage,
          partition,
          id,
          i,
          chunks.length,
          revision,
          format,
          c.firstClassId,
          c.lastClassId,
          c.bytes,
        );
      }
    },
  );
  // Chunk 0 last, after the checks: a reader never sees a snapshot before all of it is there,
  // nor one made before a delete. A delete meanwhile may have cleared chunks already in; it is
  // after `revision`, so the snapshot is refused (and its chunks go) here.
  const finishSnapshot = db.transaction(
    (storage: string, partition: number, id: number, snapshot: SearchSnapshotWrite): boolean => {
      const staged = Number(statements.stagedChunks.get(storage, partition, id));
      if (
        snapshotRefused(storage, partition, snapshot.revision) ||
        staged !== snapshot.chunks.length - 1
      ) {
        statements.dropSnapshot.run(storage, partition, id);
        return false;
      }
      statements.dropOtherSnapshots.run(storage, partition, id);
      insertChunks(storage, partition, id, snapshot, 0, 1);
      return true;
    },
  );
  /**
   * Stores a snapshot a few chunks per transaction, yielding between them: one transaction of
   * hundreds of megabytes would hold the event loop and every writer for seconds.
   */
  async function putSnapshot(
    storage: string,
    partition: number,
    snapshot: SearchSnapshotWrite,
  ): Promise<boolean> {
    if (snapshotRefused(storage, partition, snapshot.revision)) return false;
    const id = newSnapshotId();
    try {
      for (let from = 1; from < snapshot.chunks.length; from += SNAPSHOT_CHUNKS_PER_TRANSACTION) {
        const to = Math.min(snapshot.chunks.length, from + SNAPSHOT_CHUNKS_PER_TRANSACTION);
        insertChunks.immediate(storage, partition, id, snapshot, from, to);
        await new Promise((resolve) => setImmediate(resolve));
        if (closed) throw storeClosed();
      }
      return finishSnapshot.immediate(storage, partition, id, snapshot);
    } catch (err) {
      // Whatever went in is of no use without its chunk 0; a later snapshot would remove it too.
      if (!closed) statements.dropSnapshot.run(storage, partition, id);
      throw err;
    }
  }

  // Deferred transaction of reads only: one WAL snapshot for the revision and the rows.
  const changes = db.transaction((storage: string, partition: number, since: number) => {
    const row = statements.partition.get(storage, partition);
    const revision = row === undefined ? 0 : Number(row.revision);
    const prunedThrough = row === undefined ? 0 : Number(row.pruned_through);
    const full = since === 0 || since > revision || since < prunedThrough;
    const upserts = full
      ? statements.allCompact.all(storage, partition)
      : statements.compactSince.all(storage, partition, since);
    const deletes = full ? [] : statements.deletesSince.all(storage, partition, since);
    return { revision, upserts: upserts.map(compactEntryOf), deletes, full };
  });

  const page = db.transaction(
    (storage: string, partition: number, after: bigint, limit: number, through: bigint) => {
      const row = statements.partition.get(storage, partition);
      const entries = statements.compactPage.all(storage, partition, after, through, limit);
      return {
        revision: row === undefined ? 0 : Number(row.revision),
        entries: entries.map(compactEntryOf),
      };
    },
  );

  const summaryColumns = `storage, partition, class_id, encoder_version, tags, created_at,
    enrolled_at, feature_count, thumbnail_count, version, metadata_mac,
    substr(enhanced, 1, ${ENVELOPE_HEADER_BYTES}) AS enhanced`;
  const hasTag = "EXISTS (SELECT 1 FROM json_each(tags) WHERE value = ?)";
  const listing = {
    all: db.prepare<[...PartitionKey, bigint, number], SummaryRow>(
      `SELECT ${summaryColumns} FROM templates
       WHERE storage = ? AND partition = ? AND class_id > ? ORDER BY class_id LIMIT ?`,
    ),
    tagged: db.prepare<[...PartitionKey, bigint, string, number], SummaryRow>(
      `SELECT ${summaryColumns} FROM templates
       WHERE storage = ? AND partition = ? AND class_id > ? AND ${hasTag}
       ORDER BY class_id LIMIT ?`,
    ),
    countAll: db
      .prepare<PartitionKey, bigint>(
        "SELECT count(*) FROM templates WHERE storage = ? AND partition = ?",
      )
      .pluck(),
    countTagged: db
      .prepare<[...PartitionKey, string], bigint>(
        `SELECT count(*) FROM templates WHERE storage = ? AND partition = ? AND ${hasTag}`,
      )
      .pluck(),
  };
  const listTemplates = db.transaction(
    (
      storage: string,
      partition: number,
      options: { afterClassId: bigint; limit: number; tag?: string },
    ) => {
      const { afterClassId, limit, tag } = options;
      const rows =
        tag === undefined
          ? listing.all.all(storage, partition, afterClassId, limit)
          : listing.tagged.all(storage, partition, afterClassId, tag, limit);
      const total =
        tag === undefined
          ? listing.countAll.get(storage, partition)
          : listing.countTagged.get(storage, partition, tag);
      return { templates: rows.map(summaryOf), total: Number(total ?? 0) };
    },
  );

  const prune = db.transaction((storage: string, partition: number, through: number): number => {
    statements.markPruned.run(through, storage, partition);
    return statements.prune.run(storage, partition, through).changes;
  });

  let closed = false;
  const operation = createStoreOperation({ isClosed: () => closed, asStoreError });
  const jobLog = createSqliteJobLog(
    db,
    operation,
    (err) => sqliteCode(err) === "SQLITE_CONSTRAINT_UNIQUE",
  );

  function truncateWal(): void {
    try {
      db.pragma(`busy_timeout = ${DELETE_CHECKPOINT_WAIT_MS}`);
      db.pragma("wal_checkpoint(TRUNCATE)");
    } catch {
      // Best effort: a busy reader keeps the WAL for now; later checkpoints overwrite it.
    } finally {
      db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    }
  }

  return {
    kind: "sqlite",

    get: operation("get", validateBcid, (bcid) => {
      const row = statements.get.get(...keyOf(bcid));
      return row === undefined ? undefined : templateOf(row);
    }),

    put: operation("put", validateTemplateWrite, (template, expectedVersion) =>
      put.immediate(template, expectedVersion),
    ),

    setTags: operation(
      "setTags",
      (bcid: Bcid, tags: string[], metadata?: MetadataMacUpdate) => {
        validateBcid(bcid);
        validateTags(tags);
        if (metadata !== undefined) validateMacUpdate(metadata);
      },
      (bcid, tags, metadata) => setTags.immediate(bcid, tags, metadata),
    ),

    delete: operation("delete", validateBcid, (bcid) => {
      const deleted = remove.immediate(keyOf(bcid));
      if (deleted) truncateWal();
      return deleted;
    }),

    partitionChanges: operation(
      "partitionChanges",
      (storage: string, partition: number, sinceRevision: number) => {
        validateStoragePartition(storage, partition);
        validateSinceRevision(sinceRevision);
      },
      (storage, partition, sinceRevision): PartitionChanges =>
        changes.deferred(storage, partition, sinceRevision),
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
      (storage, partition, afterClassId, limit, throughClassId = MAX_CLASS_ID) =>
        page.deferred(storage, partition, afterClassId, limit, throughClassId),
    ),

    compactTemplates: operation(
      "compactTemplates",
      (storage: string, partition: number, classIds: readonly bigint[]) => {
        validateStoragePartition(storage, partition);
        validateClassIds(classIds);
      },
      (storage, partition, classIds) => {
        if (classIds.length === 0) return [];
        const ids = `[${[...new Set(classIds)].join(",")}]`;
        return statements.compactByIds.all(storage, partition, ids).map(compactEntryOf);
      },
    ),

    putSearchSnapshot: operation("putSearchSnapshot", validateSnapshot, putSnapshot),

    resealSearchSnapshotChunk: operation(
      "resealSearchSnapshotChunk",
      validateResealedChunk,
      (storage, partition, snapshotId, chunk, bytes) =>
        statements.resealChunk.run(bytes, storage, partition, snapshotId, chunk).changes > 0,
    ),

    searchSnapshot: operation("searchSnapshot", validateStoragePartition, (storage, partition) => {
      const row = statements.snapshotInfo.get(storage, partition);
      return row === undefined
        ? undefined
        : {
            id: Number(row.snapshot_id),
            revision: Number(row.revision),
            format: row.format,
            chunks: Number(row.chunks),
          };
    }),

    searchSnapshotChunk: operation(
      "searchSnapshotChunk",
      validateSnapshotChunk,
      (storage, partition, snapshotId, chunk): StoredSnapshotChunk | undefined => {
        const row = statements.snapshotChunk.get(storage, partition, snapshotId, chunk);
        if (row === undefined) return undefined;
        const range = { firstClassId: row.first_class_id, lastClassId: row.last_class_id };
        return row.bytes === null ? range : { ...range, bytes: bytesOf(row.bytes) };
      },
    ),

    ...jobLog,

    pruneTombstones: operation(
      "pruneTombstones",
      (storage: string, partition: number, throughRevision: number) => {
        validateStoragePartition(storage, partition);
        validateSinceRevision(throughRevision);
      },
      (storage, partition, throughRevision) => prune.immediate(storage, partition, throughRevision),
    ),

    migrationVersions: operation("migrationVersions", noArguments, () =>
      sqliteMigrationVersions(db),
    ),

    listPartitions: operation("listPartitions", noArguments, (): PartitionSummary[] =>
      statements.partitions.all().map(partitionSummaryOf),
    ),

    listTemplates: operation(
      "listTemplates",
      validateTemplateListing,
      (storage, partition, options) => listTemplates.deferred(storage, partition, options),
    ),

    templatesWithoutMetadataMac: operation("templatesWithoutMetadataMac", validateBatch, (limit) =>
      statements.withoutMac.all(limit).map(templateOf),
    ),

    setMetadataMac: operation(
      "setMetadataMac",
      (bcid: Bcid, update: MetadataMacUpdate) => {
        validateBcid(bcid);
        validateMacUpdate(update);
      },
      (bcid, update) =>
        statements.setMac.run(update.metadataMac, ...keyOf(bcid), update.expectedVersion)
          .changes === 1,
    ),

    ping: operation("ping", noArguments, () => {
      db.prepare("SELECT 1").get();
    }),

    close() {
      if (!closed) {
        closed = true;
        db.close();
      }
      return Promise.resolve();
    },
  };
}

type TemplateValues = [
  encoderVersion: number,
  tags: string,
  createdAt: number,
  enrolledAt: number,
  featureCount: number,
  thumbnailCount: number,
  compact: Uint8Array,
  enhanced: Uint8Array,
];

function keyOf(bcid: Bcid): Key {
  return [bcid.storage, bcid.partition, bcid.classId];
}

function templateValues(template: TemplateWrite): TemplateValues {
  return [
    template.encoderVersion,
    JSON.stringify(template.tags),
    template.createdAt.getTime(),
    template.enrolledAt.getTime(),
    template.featureCount,
    template.thumbnailCount,
    template.compact,
    template.enhanced,
  ];
}

function templateOf(row: TemplateRow): StoredTemplate {
  return {
    bcid: { storage: row.storage, partition: Number(row.partition), classId: row.class_id },
    encoderVersion: Number(row.encoder_version),
    tags: JSON.parse(row.tags) as string[],
    createdAt: new Date(Number(row.created_at)),
    enrolledAt: new Date(Number(row.enrolled_at)),
    featureCount: Number(row.feature_count),
    thumbnailCount: Number(row.thumbnail_count),
    compact: bytesOf(row.compact),
    enhanced: bytesOf(row.enhanced),
    version: Number(row.version),
    ...(row.metadata_mac === null ? {} : { metadataMac: bytesOf(row.metadata_mac) }),
  };
}

type SummaryRow = Omit<TemplateRow, "compact">;

function summaryOf(row: SummaryRow): TemplateSummary {
  const { compact: _, enhanced, ...summary } = templateOf({ ...row, compact: row.enhanced });
  return { ...summary, enhancedHeader: enhanced };
}

function compactEntryOf(row: CompactRow): CompactEntry {
  return {
    classId: row.class_id,
    encoderVersion: Number(row.encoder_version),
    tags: JSON.parse(row.tags) as string[],
    compact: bytesOf(row.compact),
  };
}

function sqliteCode(err: unknown): string | undefined {
  return err instanceof Database.SqliteError ? err.code : undefined;
}

function asStoreError(err: unknown, action: string): FacevaultError {
  if (isFacevaultError(err)) return err;
  const code = sqliteCode(err);
  if (code?.startsWith("SQLITE_BUSY") || code?.startsWith("SQLITE_LOCKED")) {
    return new FacevaultError("unavailable", `template store ${action}: database is busy`, {
      cause: err,
    });
  }
  return new FacevaultError(
    "internal",
    `template store ${action} failed${code === undefined ? "" : ` (${code})`}`,
    { cause: err },
  );
}

/**
 * Makes the database file private before SQLite opens it: its folder is created (0700) when
 * missing, and the file is created or kept with mode 0600. SQLite gives its -wal and -shm files
 * the mode of the database file, so they are private too.
 */
function privateFile(path: string): void {
  if (path === ":memory:") return;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  closeSync(openSync(path, "a", 0o600));
  chmodSync(path, 0o600);
}
