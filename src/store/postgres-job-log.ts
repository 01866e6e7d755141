import type pg from "pg";
import { FacevaultError } from "../errors.js";
import type { JobLog, JobRecord } from "./job-log.js";
import { type JobColumns, jobOf } from "./row-mapping.js";
import type { StoreOperation } from "./store-operation.js";
import { resolveListJobsOptions, validateJob, validatePruneDate } from "./store-validation.js";

/** Rows one prune statement deletes at most: a writer waits for one batch, not for all. */
const PRUNE_BATCH = 5000;

/**
 * The bookkeeping log in the `jobs` table of `schema` (an already quoted identifier), on the
 * template store's pool, which the store owns and ends.
 */
export function createPostgresJobLog(
  pool: pg.Pool,
  schema: string,
  operation: StoreOperation,
  isUniqueViolation: (err: unknown) => boolean,
): JobLog {
  const s = schema;
  const sql = {
    insertJob: `INSERT INTO ${s}.jobs (job_id, client_id, reference_number, method, received_at,
        duration_ms, outcome, image_count, performed_action)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    listJobs: `SELECT * FROM ${s}.jobs ORDER BY received_at DESC, seq DESC LIMIT $1`,
    listClientJobs: `SELECT * FROM ${s}.jobs WHERE client_id = $1
      ORDER BY received_at DESC, seq DESC LIMIT $2`,
    pruneBatch: `DELETE FROM ${s}.jobs WHERE seq IN
      (SELECT seq FROM ${s}.jobs WHERE received_at < $1 ORDER BY received_at LIMIT $2)`,
  };

  return {
    recordJob: operation("recordJob", validateJob, async (job: JobRecord) => {
      try {
        await pool.query(sql.insertJob, jobParams(job));
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

    listJobs: operation("listJobs", resolveListJobsOptions, async (listOptions) => {
      const { clientId, limit } = resolveListJobsOptions(listOptions);
      const result =
        clientId === undefined
          ? await pool.query<JobColumns>(sql.listJobs, [limit])
          : await pool.query<JobColumns>(sql.listClientJobs, [clientId, limit]);
      return result.rows.map(jobOf);
    }),

    pruneJobs: operation("pruneJobs", validatePruneDate, async (olderThan: Date) => {
      let deleted = 0;
      for (;;) {
        const batch = (await pool.query(sql.pruneBatch, [olderThan, PRUNE_BATCH])).rowCount ?? 0;
        deleted += batch;
        if (batch < PRUNE_BATCH) return deleted;
      }
    }),
  };
}

function jobParams(job: JobRecord): unknown[] {
  return [
    job.jobId,
    job.clientId,
    job.referenceNumber ?? null,
    job.method,
    job.receivedAt,
    job.durationMs,
    job.outcome,
    job.imageCount,
    job.performedAction ?? null,
  ];
}
