import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { type Job, jobElapsedMs, newJob } from "../rpc/context-values.js";
import type { TemplateStore } from "../store/template-store.js";
import type { NodeRequest, NodeResponse } from "./node-types.js";

export interface JobTrackerOptions {
  /** Sent in the `bws-version` header. */
  bwsVersion: string;
  /** Reference numbers are cut to this many characters. */
  maxReferenceNumberLength: number;
  store: Pick<TemplateStore, "recordJob">;
  logger: Logger;
}

export interface JobTracker {
  /**
   * Creates the job of an incoming request, the only place one is created, and sets the headers
   * every response carries, errors and unknown routes included: `jobid`, `bws-version`, `date`
   * and the `reference-number` echo.
   */
  begin(req: NodeRequest, res: NodeResponse): Job;
  /** The job `begin` created for this request. */
  jobOf(req: NodeRequest): Job | undefined;
  /** Writes the job's bookkeeping record once (in the background; see `drain`). */
  record(job: Job): void;
  /** True once `record` was called for the job. */
  isRecorded(job: Job): boolean;
  /** Resolves when every bookkeeping write started so far has finished. */
  drain(): Promise<void>;
}

/** Creates the per-request job bookkeeping; see {@link JobTracker}. */
export function createJobTracker(options: JobTrackerOptions): JobTracker {
  const pending = new Set<Promise<void>>();
  const recorded = new WeakSet<Job>();
  const jobs = new WeakMap<NodeRequest, Job>();
  const log = options.logger;

  return {
    begin(req, res) {
      const referenceNumber = sanitizeReferenceNumber(
        req.headers["reference-number"],
        options.maxReferenceNumberLength,
      );
      const job = newJob(randomUUID(), referenceNumber);
      jobs.set(req, job);
      res.setHeader("jobid", job.jobId);
      res.setHeader("bws-version", options.bwsVersion);
      res.setHeader("date", job.receivedAt.toUTCString());
      if (referenceNumber !== undefined) res.setHeader("reference-number", referenceNumber);
      return job;
    },

    jobOf: (req) => jobs.get(req),

    record(job) {
      if (recorded.has(job)) return;
      recorded.add(job);
      const write = options.store
        .recordJob({
          jobId: job.jobId,
          clientId: job.clientId,
          ...(job.referenceNumber === undefined ? {} : { referenceNumber: job.referenceNumber }),
          method: job.method,
          receivedAt: job.receivedAt,
          durationMs: jobElapsedMs(job),
          // A call that ended without an outcome was cut off: the client went away.
          outcome: job.outcome ?? 1,
          imageCount: job.imageCount,
          ...(job.performedAction === undefined ? {} : { performedAction: job.performedAction }),
        })
        .catch((err: unknown) => {
          log.error({ jobId: job.jobId, err }, "bookkeeping record could not be written");
        })
        .finally(() => pending.delete(write));
      pending.add(write);
    },

    isRecorded: (job) => recorded.has(job),

    async drain() {
      while (pending.size > 0) await Promise.all(pending);
    },
  };
}

/**
 * Reference numbers are untrusted: keep the first value, drop control characters (they could
 * split headers or log lines), trim, and cut to `maxLength`. Empty means none.
 */
export function sanitizeReferenceNumber(
  value: string | string[] | undefined,
  maxLength: number,
): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  if (first === undefined) return undefined;
  const clean = first
    .replace(/\p{Cc}/gu, "")
    .trim()
    .slice(0, maxLength);
  return clean === "" ? undefined : clean;
}
