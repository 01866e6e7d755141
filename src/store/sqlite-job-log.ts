import type Database from "better-sqlite3";
import { FacevaultError } from "../errors.js";
import type { JobLog, JobQuery, JobRecord } from "./job-log.js";
import { type JobColumns, jobOf } from "./row-mapping.js";
import type { StoreOperation } from "./store-operation.js";
import {
  jobCursor,
  resolveListJobsOptions,
  validateJob,
  validateJobQuery,
  validatePruneDate,
} from "./store-validation.js";

/** What SQLite returns for a job: integers as bigint, times as milliseconds. */
type JobRow = Omit<JobColumns, "received_at" | "outcome" | "image_count"> & {
  received_at: bigint;
  outcome: bigint;
  image_count: bigint;
};

type JobValues = [
  jobId: string,
  clientId: string,
  referenceNumber: string | null,
  method: string,
  receivedAt: number,
  durationMs: number,
  outcome: number,
  imageCount: number,
  performedAction: string | null,
];

/** Rows one prune transaction deletes at most: a writer waits for one batch, not for all. */
export const PRUNE_BATCH = 5000;

/**
 * The bookkeeping log in the `jobs` table of an open (and migrated) SQLite connection, which
 * the template store owns and closes.
 */
export function createSqliteJobLog(
  db: Database.Database,
  operation: StoreOperation,
  isUniqueViolation: (err: unknown) => boolean,
): JobLog {
  const statements = {
    insertJob: db.prepare<JobValues>(
      `INSERT INTO jobs (job_id, client_id, reference_number, method, received_at, duration_ms,
         outcome, image_count, performed_action)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    listJobs: db.prepare<[number], JobRow>(
      `SELECT * FROM jobs ORDER BY received_at DESC, seq DESC LIMIT ?`,
    ),
    listClientJobs: db.prepare<[string, number], JobRow>(
      `SELECT * FROM jobs WHERE client_id = ? ORDER BY received_at DESC, seq DESC LIMIT ?`,
    ),
    pruneBatch: db.prepare<[number, number]>(
      `DELETE FROM jobs WHERE seq IN
         (SELECT seq FROM jobs WHERE received_at < ? ORDER BY received_at LIMIT ?)`,
    ),
  };

  return {
    recordJob: operation("recordJob", validateJob, (job: JobRecord) => {
      try {
        statements.insertJob.run(...jobValues(job));
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new FacevaultError("already_exists", `job ${job.jobId} is already recorded`, {
            field: "jobId",
            cause: err,
          });
        }
        throw err;
      }
    }),

    listJobs: operation("listJobs", resolveListJobsOptions, (listOptions) => {
      const { clientId, limit } = resolveListJobsOptions(listOptions);
      const rows =
        clientId === undefined
          ? statements.listJobs.all(limit)
          : statements.listClientJobs.all(clientId, limit);
      return rows.map(jobOfRow);
    }),

    queryJobs: operation("queryJobs", validateJobQuery, (query: JobQuery) => {
      const cursor = validateJobQuery(query);
      const where: string[] = [];
      const params: (string | number)[] = [];
      const add = (condition: string, ...values: (string | number)[]) => {
        where.push(condition);
        params.push(...values);
      };
      // The ids travel as one JSON array, however many there are.
      if (query.clientIds)
        add("client_id IN (SELECT value FROM json_each(?))", JSON.stringify(query.clientIds));
      if (query.from) add("received_at >= ?", query.from.getTime());
      if (query.to) add("received_at < ?", query.to.getTime());
      if (query.referenceNumber !== undefined) add("reference_number = ?", query.referenceNumber);
      if (query.method !== undefined) add("method = ?", query.method);
      if (query.outcome !== undefined) add("outcome = ?", query.outcome);
      if (cursor) {
        add(
          "(received_at < ? OR (received_at = ? AND seq < ?))",
          cursor.receivedAt,
          cursor.receivedAt,
          cursor.seq,
        );
      }
      const rows = db
        .prepare<(string | number)[], JobRow & { seq: bigint }>(
          `SELECT * FROM jobs ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
           ORDER BY received_at DESC, seq DESC LIMIT ?`,
        )
        .all(...params, query.limit + 1);
      const page = rows.slice(0, query.limit);
      const last = page[page.length - 1];
      const jobs = page.map(jobOfRow);
      return rows.length > query.limit && last !== undefined
        ? { jobs, next: jobCursor(new Date(Number(last.received_at)), last.seq) }
        : { jobs };
    }),

    pruneJobs: operation("pruneJobs", validatePruneDate, (olderThan: Date) => {
      let deleted = 0;
      for (;;) {
        const batch = statements.pruneBatch.run(olderThan.getTime(), PRUNE_BATCH).changes;
        deleted += batch;
        if (batch < PRUNE_BATCH) return deleted;
      }
    }),
  };
}

function jobOfRow(row: JobRow): JobRecord {
  return jobOf({
    ...row,
    received_at: new Date(Number(row.received_at)),
    outcome: Number(row.outcome),
    image_count: Number(row.image_count),
  });
}

function jobValues(job: JobRecord): JobValues {
  return [
    job.jobId,
    job.clientId,
    job.referenceNumber ?? null,
    job.method,
    job.receivedAt.getTime(),
    job.durationMs,
    job.outcome,
    job.imageCount,
    job.performedAction ?? null,
  ];
}
