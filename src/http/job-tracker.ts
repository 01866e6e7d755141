import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { isFacevaultError } from "../errors.js";
import { type Job, jobElapsedMs, newJob } from "../rpc/context-values.js";
import type { JobLog, JobRecord } from "../store/job-log.js";
import type { NodeRequest, NodeResponse } from "./node-types.js";

export interface JobTrackerOptions {
  /** Sent in the `bws-version` header. */
  bwsVersion: string;
  /** Reference numbers are cut to this many characters. */
  maxReferenceNumberLength: number;
  jobLog: Pick<JobLog, "recordJob">;
  logger: Logger;
  /**
   * Records kept while the database cannot be reached, written once it can again; beyond this
   * many they are lost, counted and logged. Default 10 000.
   */
  maxBuffered?: number;
  /** How often buffered records are tried again, ms. Default 1000. */
  retryIntervalMs?: number;
  /** Told how many records were lost (metrics). */
  onLost?: (records: number) => void;
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
  /**
   * Resolves when every bookkeeping write started so far has finished, and buffered records
   * have been tried once more (those that still cannot be written are counted as lost).
   */
  drain(): Promise<void>;
}

/** Creates the per-request job bookkeeping; see {@link JobTracker}. */
export function createJobTracker(options: JobTrackerOptions): JobTracker {
  const maxBuffered = options.maxBuffered ?? 10_000;
  const retryIntervalMs = options.retryIntervalMs ?? 1000;
  const pending = new Set<Promise<void>>();
  const recorded = new WeakSet<Job>();
  const jobs = new WeakMap<NodeRequest, Job>();
  const log = options.logger;
  /** Records that met an unreachable database, oldest first. */
  let buffered: JobRecord[] = [];
  let lost = 0;
  let retry: NodeJS.Timeout | undefined;

  /** Writes one record; false when the database could not be reached (it is buffered). */
  async function write(record: JobRecord): Promise<boolean> {
    try {
      await options.jobLog.recordJob(record);
      return true;
    } catch (err) {
      // Written before the connection broke: the retry finds it there.
      if (isFacevaultError(err, "already_exists")) return true;
      if (!isFacevaultError(err, "unavailable")) {
        log.error({ jobId: record.jobId, err }, "bookkeeping record could not be written");
        return true;
      }
      if (buffered.length < maxBuffered) buffered.push(record);
      else {
        options.onLost?.(1);
        if (lost++ === 0) {
          log.error(
            { maxBuffered },
            "bookkeeping buffer full while the database is unreachable: records are being lost",
          );
        }
      }
      retry ??= setTimeout(flush, retryIntervalMs).unref();
      return false;
    }
  }

  async function flush(): Promise<void> {
    retry = undefined;
    const waiting = buffered;
    buffered = [];
    for (let i = 0; i < waiting.length; i++) {
      if (!(await write(waiting[i] as JobRecord))) {
        // Still unreachable: keep the rest, in order, behind what was just buffered again.
        buffered.push(...waiting.slice(i + 1));
        return;
      }
    }
    if (waiting.length > 0 && buffered.length === 0) {
      log.info(
        { written: waiting.length, lost },
        "bookkeeping records held during the outage were written",
      );
      lost = 0;
    }
  }

  function track(work: Promise<unknown>): void {
    const done = work.then(() => undefined).finally(() => pending.delete(done));
    pending.add(done);
  }

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
      track(
        write({
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
        }),
      );
    },

    isRecorded: (job) => recorded.has(job),

    async drain() {
      while (pending.size > 0) await Promise.all(pending);
      if (buffered.length === 0) return;
      clearTimeout(retry);
      await flush();
      clearTimeout(retry);
      retry = undefined;
      if (buffered.length > 0) {
        options.onLost?.(buffered.length);
        log.error(
          { lost: buffered.length + lost },
          "bookkeeping records lost: the database stayed unreachable",
        );
        buffered = [];
      }
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
