/**
 * The bookkeeping log: one record per API call (who, what, when, how it ended). Kept beside the
 * templates in the same database but a separate concern: it holds no biometric data, is written
 * by the transport on every call, read by operators, and pruned by age.
 */

/** Bookkeeping entry of one API call. */
export interface JobRecord {
  jobId: string;
  clientId: string;
  referenceNumber?: string;
  /** RPC method name, e.g. `Enroll`. */
  method: string;
  receivedAt: Date;
  /** Wall time of the call in milliseconds. */
  durationMs: number;
  /** gRPC status code, 0 = OK. */
  outcome: number;
  imageCount: number;
  /** Enrollment action name, for Enroll calls. */
  performedAction?: string;
}

export interface ListJobsOptions {
  /** Only this client's jobs. Default: all clients. */
  clientId?: string;
  /** Most entries returned, 1 to 10,000. Default 100. */
  limit?: number;
}

export interface JobLog {
  /** @throws FacevaultError `already_exists` when the job id was recorded before. */
  recordJob(job: JobRecord): Promise<void>;
  /** Newest first (by `receivedAt`, then by recording order). */
  listJobs(options?: ListJobsOptions): Promise<JobRecord[]>;
  /**
   * Deletes every record received before `olderThan` (in batches, so concurrent writers are
   * never blocked for long). Returns how many were deleted.
   */
  pruneJobs(olderThan: Date): Promise<number>;
}
