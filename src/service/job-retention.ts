import type { Logger } from "pino";
import type { JobLog } from "../store/job-log.js";

export interface JobRetentionOptions {
  jobLog: Pick<JobLog, "pruneJobs">;
  /** Records older than this many days are deleted; 0 keeps them forever (nothing runs). */
  retentionDays: number;
  /** Time between prunes, ms (the first runs at once). */
  intervalMs: number;
  logger: Logger;
  /** The clock. Default `() => new Date()`. */
  now?: () => Date;
}

export interface JobRetention {
  /** Prunes once now; resolves to the number of records deleted (0 when retention is off). */
  pruneNow(): Promise<number>;
  /** Stops the timer; a prune already running finishes. Idempotent. */
  stop(): void;
}

const DAY_MS = 86_400_000;

/**
 * Deletes bookkeeping records older than `retentionDays`, at once and then every `intervalMs`,
 * on an unref'd timer (it never keeps the process alive). A failed prune (database unreachable)
 * is logged and retried at the next interval.
 */
export function startJobRetention(options: JobRetentionOptions): JobRetention {
  const now = options.now ?? (() => new Date());
  const log = options.logger.child({ component: "job-retention" });
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  async function pruneNow(): Promise<number> {
    if (options.retentionDays === 0) return 0;
    const olderThan = new Date(now().getTime() - options.retentionDays * DAY_MS);
    const deleted = await options.jobLog.pruneJobs(olderThan);
    if (deleted > 0) log.info({ deleted, olderThan }, "old bookkeeping records deleted");
    return deleted;
  }

  function tick(): void {
    pruneNow()
      .catch((err: unknown) => log.warn({ err }, "bookkeeping records could not be pruned"))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, options.intervalMs).unref();
      });
  }

  if (options.retentionDays > 0) timer = setTimeout(tick, 0).unref();

  return {
    pruneNow,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
