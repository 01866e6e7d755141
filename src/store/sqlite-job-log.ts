import type Database from "better-sqlite3";
import { FacevaultError } from "../errors.js";
import type { JobLog, JobRecord } from "./job-log.js";
import { type JobColumns, jobOf } from "./row-mapping.js";
import type { StoreOperation } from "./store-operation.js";
import { resolveListJobsOptions, validateJob, validatePruneDate } from "./store-validation.js";

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
