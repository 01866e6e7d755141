import { FacevaultError } from "../errors.js";
import type { JobQuery, JobRecord, ListJobsOptions } from "./job-log.js";
import { MAX_TEMPLATE_PAGE } from "./template-catalog.js";
import {
  type Bcid,
  MAX_COMPACT_BATCH,
  type SearchSnapshotWrite,
  type TemplateWrite,
} from "./template-store.js";

/**
 * Argument checks shared by every TemplateStore implementation, so that both backends reject
 * exactly the same input with the same `invalid_argument` errors before touching the database.
 */

/** The largest class id (int64). */
export const MAX_CLASS_ID = 2n ** 63n - 1n;
const MAX_INT32 = 2 ** 31 - 1;
const DEFAULT_JOB_LIMIT = 100;
const MAX_JOB_LIMIT = 10_000;

/** Storage non-empty, partition an integer in [0, 2^31 - 1]. */
export function validateStoragePartition(storage: string, partition: number): void {
  if (typeof storage !== "string" || storage.length === 0) {
    throw invalid("storage", "storage name must be a non-empty string");
  }
  checkText("storage", storage);
  if (!Number.isInteger(partition) || partition < 0 || partition > MAX_INT32) {
    throw invalid("partition", `partition must be an integer in [0, ${MAX_INT32}]`);
  }
}

/** As {@link validateStoragePartition}, and a bigint class id in [1, 2^63 - 1]. */
export function validateBcid(bcid: Bcid): void {
  validateStoragePartition(bcid.storage, bcid.partition);
  if (typeof bcid.classId !== "bigint" || bcid.classId <= 0n || bcid.classId > MAX_CLASS_ID) {
    throw invalid("classId", "class id must be a positive 64-bit integer (1 to 2^63 - 1)");
  }
}

/**
 * A page request: `afterClassId` in [0, 2^63 - 1], `limit` in [1, MAX_COMPACT_BATCH],
 * `throughClassId` (when given) in [1, 2^63 - 1].
 */
export function validateCompactPage(
  afterClassId: bigint,
  limit: number,
  throughClassId?: bigint,
): void {
  if (typeof afterClassId !== "bigint" || afterClassId < 0n || afterClassId > MAX_CLASS_ID) {
    throw invalid("afterClassId", "afterClassId must be an integer in [0, 2^63 - 1]");
  }
  if (
    throughClassId !== undefined &&
    (typeof throughClassId !== "bigint" || throughClassId <= 0n || throughClassId > MAX_CLASS_ID)
  ) {
    throw invalid("throughClassId", "throughClassId must be an integer in [1, 2^63 - 1]");
  }
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_COMPACT_BATCH) {
    throw invalid("limit", `limit must be an integer in [1, ${MAX_COMPACT_BATCH}]`);
  }
}

/** At most MAX_COMPACT_BATCH class ids, each in [1, 2^63 - 1]. */
export function validateClassIds(classIds: readonly bigint[]): void {
  if (!Array.isArray(classIds) || classIds.length > MAX_COMPACT_BATCH) {
    throw invalid("classIds", `classIds must be an array of at most ${MAX_COMPACT_BATCH}`);
  }
  for (const classId of classIds) {
    if (typeof classId !== "bigint" || classId <= 0n || classId > MAX_CLASS_ID) {
      throw invalid("classIds", "class ids must be positive 64-bit integers (1 to 2^63 - 1)");
    }
  }
}

/** Most chunks one search snapshot may have. */
const MAX_SNAPSHOT_CHUNKS = 65_536;

/**
 * A snapshot to store (and its partition): revision >= 0, a short format name, 1 to 65,536
 * chunks of bytes whose class id ranges ascend without overlapping.
 */
export function validateSnapshot(
  storage: string,
  partition: number,
  snapshot: SearchSnapshotWrite,
): void {
  validateStoragePartition(storage, partition);
  validateSinceRevision(snapshot.revision);
  if (typeof snapshot.format !== "string" || !/^[\x21-\x7e]{1,64}$/.test(snapshot.format)) {
    throw invalid("format", "format must be 1 to 64 printable ASCII characters");
  }
  const { chunks } = snapshot;
  if (!Array.isArray(chunks) || chunks.length < 1 || chunks.length > MAX_SNAPSHOT_CHUNKS) {
    throw invalid("chunks", `a snapshot has 1 to ${MAX_SNAPSHOT_CHUNKS} chunks`);
  }
  let previous = 0n;
  chunks.forEach((c, i) => {
    if (typeof c !== "object" || c === null || !(c.bytes instanceof Uint8Array)) {
      throw invalid(`chunks[${i}]`, "snapshot chunk bytes must be bytes");
    }
    const { firstClassId: first, lastClassId: last } = c;
    if (
      typeof first !== "bigint" ||
      typeof last !== "bigint" ||
      first <= previous ||
      last < first ||
      last > MAX_CLASS_ID
    ) {
      throw invalid(
        `chunks[${i}]`,
        "snapshot chunk class id ranges must ascend without overlapping, within [1, 2^63 - 1]",
      );
    }
    previous = last;
  });
}

/** A chunk address, as {@link validateSnapshotChunk}, and the bytes of a re-sealed chunk. */
export function validateResealedChunk(
  storage: string,
  partition: number,
  snapshotId: number,
  chunk: number,
  bytes: Uint8Array,
): void {
  validateSnapshotChunk(storage, partition, snapshotId, chunk);
  if (!(bytes instanceof Uint8Array)) throw invalid("bytes", "snapshot chunk must be bytes");
}

/**
 * A chunk address: the partition, a snapshot id (a safe non-negative integer) and a chunk in
 * [0, 65,535].
 */
export function validateSnapshotChunk(
  storage: string,
  partition: number,
  snapshotId: number,
  chunk: number,
): void {
  validateStoragePartition(storage, partition);
  if (!Number.isSafeInteger(snapshotId) || snapshotId < 0) {
    throw invalid("snapshotId", "snapshotId must be a non-negative safe integer");
  }
  if (!Number.isInteger(chunk) || chunk < 0 || chunk >= MAX_SNAPSHOT_CHUNKS) {
    throw invalid("chunk", `chunk must be an integer in [0, ${MAX_SNAPSHOT_CHUNKS - 1}]`);
  }
}

/** An array of strings without NUL characters. */
export function validateTags(tags: string[]): void {
  if (!Array.isArray(tags)) throw invalid("tags", "tags must be an array of strings");
  for (const tag of tags) {
    if (typeof tag !== "string") throw invalid("tags", "tags must be an array of strings");
    checkText("tags", tag);
  }
}

/** Every field of a write, and `expectedVersion` a non-negative integer. */
export function validateTemplateWrite(template: TemplateWrite, expectedVersion: number): void {
  validateBcid(template.bcid);
  validateTags(template.tags);
  checkInt32("encoderVersion", template.encoderVersion, 0);
  checkInt32("featureCount", template.featureCount, 0);
  checkInt32("thumbnailCount", template.thumbnailCount, 0);
  checkDate("createdAt", template.createdAt);
  checkDate("enrolledAt", template.enrolledAt);
  for (const field of ["compact", "enhanced"] as const) {
    if (!(template[field] instanceof Uint8Array)) {
      throw invalid(field, `${field} template must be bytes`);
    }
  }
  if (!Number.isSafeInteger(expectedVersion) || expectedVersion < 0) {
    throw invalid("expectedVersion", "expected version must be a non-negative integer");
  }
}

/** A non-negative safe integer. */
export function validateSinceRevision(sinceRevision: number): void {
  if (!Number.isSafeInteger(sinceRevision) || sinceRevision < 0) {
    throw invalid("sinceRevision", "revision must be a non-negative integer");
  }
}

/**
 * Job id and method non-empty, client id a string (empty for calls that failed authentication),
 * counts non-negative integers, a valid date.
 */
export function validateJob(job: JobRecord): void {
  for (const field of ["jobId", "clientId", "method"] as const) {
    const mayBeEmpty = field === "clientId";
    if (typeof job[field] !== "string" || (!mayBeEmpty && job[field].length === 0)) {
      throw invalid(field, `${field} must be a ${mayBeEmpty ? "" : "non-empty "}string`);
    }
    checkText(field, job[field]);
  }
  for (const field of ["referenceNumber", "performedAction"] as const) {
    const value = job[field];
    if (value !== undefined) {
      if (typeof value !== "string") throw invalid(field, `${field} must be a string`);
      checkText(field, value);
    }
  }
  checkDate("receivedAt", job.receivedAt);
  if (!Number.isFinite(job.durationMs) || job.durationMs < 0) {
    throw invalid("durationMs", "duration must be a non-negative number of milliseconds");
  }
  checkInt32("outcome", job.outcome, 0);
  checkInt32("imageCount", job.imageCount, 0);
}

/** Fills defaults: all clients, 100 entries. */
export function resolveListJobsOptions(options: ListJobsOptions = {}): {
  clientId: string | undefined;
  limit: number;
} {
  const limit = options.limit ?? DEFAULT_JOB_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_JOB_LIMIT) {
    throw invalid("limit", `limit must be an integer in [1, ${MAX_JOB_LIMIT}]`);
  }
  return { clientId: options.clientId, limit };
}

/** A metadata MAC update: bytes (1 to 64) and a version >= 1. */
export function validateMacUpdate(update: { metadataMac: Uint8Array; expectedVersion: number }) {
  const { metadataMac, expectedVersion } = update;
  if (!(metadataMac instanceof Uint8Array) || metadataMac.length < 1 || metadataMac.length > 64) {
    throw invalid("metadataMac", "metadataMac must be 1 to 64 bytes");
  }
  checkInt32("expectedVersion", expectedVersion, 1);
}

/** A batch size in [1, 10,000]. */
export function validateBatch(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_JOB_LIMIT) {
    throw invalid("limit", `limit must be an integer in [1, ${MAX_JOB_LIMIT}]`);
  }
}

/** A job query: dates valid, limit in [1, 10,000], `after` a cursor this module made. */
export function validateJobQuery(query: JobQuery): { receivedAt: number; seq: number } | undefined {
  if (query.from !== undefined) checkDate("from", query.from);
  if (query.to !== undefined) checkDate("to", query.to);
  if (query.outcome !== undefined) checkInt32("outcome", query.outcome, 0);
  validateBatch(query.limit);
  if (query.clientIds !== undefined && !Array.isArray(query.clientIds)) {
    throw invalid("clientIds", "clientIds must be an array");
  }
  for (const field of ["referenceNumber", "method"] as const) {
    const value = query[field];
    if (value !== undefined) checkText(field, value);
  }
  if (query.after === undefined) return undefined;
  const match = /^(\d{1,15})\.(\d{1,18})$/.exec(query.after);
  if (!match) throw invalid("after", "after is not a page token of this log");
  return { receivedAt: Number(match[1]), seq: Number(match[2]) };
}

/** The cursor after a job: its time and its recording sequence number. */
export function jobCursor(receivedAt: Date, seq: number | bigint | string): string {
  return `${receivedAt.getTime()}.${seq}`;
}

/** A template page request: class id cursor, limit in [1, MAX_TEMPLATE_PAGE], a tag. */
export function validateTemplateListing(
  storage: string,
  partition: number,
  options: { afterClassId: bigint; limit: number; tag?: string },
): void {
  validateStoragePartition(storage, partition);
  validateCompactPage(options.afterClassId, Math.min(options.limit, 1));
  if (!Number.isInteger(options.limit) || options.limit < 1 || options.limit > MAX_TEMPLATE_PAGE) {
    throw invalid("limit", `limit must be an integer in [1, ${MAX_TEMPLATE_PAGE}]`);
  }
  if (options.tag !== undefined) validateTags([options.tag]);
}

/** A prune bound: a valid date. */
export function validatePruneDate(olderThan: Date): void {
  checkDate("olderThan", olderThan);
}

/** `storage/partition/classId`, for messages (no biometric data). */
export function describeBcid(bcid: Bcid): string {
  return `${bcid.storage}/${bcid.partition}/${bcid.classId}`;
}

/** The optimistic-concurrency failure of `put`. */
export function versionConflict(bcid: Bcid, expectedVersion: number): FacevaultError {
  const expectation =
    expectedVersion === 0 ? "not to exist yet" : `to be at version ${expectedVersion}`;
  return new FacevaultError(
    "aborted",
    `template ${describeBcid(bcid)} was expected ${expectation}: it was changed concurrently, re-read and retry`,
    { field: "classId" },
  );
}

/** The error of any call after `close()`. */
export function storeClosed(): FacevaultError {
  return new FacevaultError("unavailable", "template store is closed");
}

// PostgreSQL text cannot hold NUL; reject it in both backends so they accept the same input.
function checkText(field: string, value: string): void {
  if (value.includes("\u0000")) throw invalid(field, `${field} must not contain NUL characters`);
}

function checkInt32(field: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min || value > MAX_INT32) {
    throw invalid(field, `${field} must be an integer in [${min}, ${MAX_INT32}]`);
  }
}

function checkDate(field: string, value: Date): void {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw invalid(field, `${field} must be a valid date`);
  }
}

function invalid(field: string, message: string): FacevaultError {
  return new FacevaultError("invalid_argument", message, { field });
}
