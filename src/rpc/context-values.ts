import { createContextKey } from "@connectrpc/connect";
import type { AdminIdentity } from "../auth/admin-keys.js";
import type { ClientConfig } from "../auth/client-registry.js";

/** The wire protocol a call came in on; bounded, so it can label logs and metrics. */
export type CallProtocol = "grpc" | "grpc-web" | "connect" | "rest";

/**
 * Bookkeeping facts about one request, created once when it arrives (job id, time, reference
 * number) and filled in as the call passes through the layers.
 */
export interface Job {
  /** New GUID per request, also sent as the `jobid` response header. */
  jobId: string;
  receivedAt: Date;
  /** process.hrtime.bigint() at arrival, for the duration and the server-side deadline. */
  startedNs: bigint;
  /** Sanitized Reference-Number header, when the request had one. */
  referenceNumber?: string;
  /** Empty until the token is verified. */
  clientId: string;
  /** RPC name, e.g. "Enroll"; empty when the request never reached a method. */
  method: string;
  protocol?: CallProtocol;
  imageCount: number;
  performedAction?: string;
  /** gRPC code of the outcome; undefined while the call runs. */
  outcome?: number;
}

/** The job of the current call (set by the HTTP layer; created on the fly in in-memory tests). */
export const jobKey = createContextKey<Job | undefined>(undefined, { description: "job" });

/** The authenticated client of the current call (set by the auth interceptor). */
export const clientKey = createContextKey<ClientConfig | undefined>(undefined, {
  description: "client",
});

/** The authenticated admin of an admin API call (set by the call interceptor). */
export const adminKey = createContextKey<AdminIdentity | undefined>(undefined, {
  description: "admin",
});

/** Milliseconds since the job arrived. */
export function jobElapsedMs(job: Job): number {
  return Number(process.hrtime.bigint() - job.startedNs) / 1e6;
}

/** A fresh job for a request arriving now. */
export function newJob(jobId: string, referenceNumber?: string): Job {
  return {
    jobId,
    receivedAt: new Date(),
    startedNs: process.hrtime.bigint(),
    ...(referenceNumber === undefined ? {} : { referenceNumber }),
    clientId: "",
    method: "",
    imageCount: 0,
  };
}
