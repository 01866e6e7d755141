import type { JobRecord } from "./job-log.js";
import type { PartitionSummary } from "./template-catalog.js";

/** Job columns as both backends read them, after integer and time conversion. */
export interface JobColumns {
  job_id: string;
  client_id: string;
  reference_number: string | null;
  method: string;
  received_at: Date;
  duration_ms: number;
  outcome: number;
  image_count: number;
  performed_action: string | null;
}

/** A JobRecord whose absent optional fields are left out, not set to undefined. */
export function jobOf(row: JobColumns): JobRecord {
  const job: JobRecord = {
    jobId: row.job_id,
    clientId: row.client_id,
    method: row.method,
    receivedAt: row.received_at,
    durationMs: row.duration_ms,
    outcome: row.outcome,
    imageCount: row.image_count,
  };
  if (row.reference_number !== null) job.referenceNumber = row.reference_number;
  if (row.performed_action !== null) job.performedAction = row.performed_action;
  return job;
}

/** A plain Uint8Array view of a driver's Buffer (no copy), so both backends return one type. */
export function bytesOf(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** An integer as a driver returns it: pg gives bigint columns as digit strings, SQLite as bigint. */
type Count = number | string | bigint;

/** A partition's counts as both backends' catalog query returns them (numbers or digit strings). */
export interface PartitionColumns {
  storage: string;
  partition: Count;
  revision: Count;
  templates: Count;
  features: Count;
  thumbnails: Count;
}

export function partitionSummaryOf(row: PartitionColumns): PartitionSummary {
  return {
    storage: row.storage,
    partition: Number(row.partition),
    revision: Number(row.revision),
    templates: Number(row.templates),
    featureVectors: Number(row.features),
    thumbnails: Number(row.thumbnails),
  };
}
