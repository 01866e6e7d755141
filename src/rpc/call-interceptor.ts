import { randomUUID } from "node:crypto";
import { Code, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { FaceEnrollmentResponse_EnrollmentAction } from "../../gen/bioid/services/v1/face_recognition_pb.js";
import type { TokenVerifier } from "../auth/token-verifier.js";
import { clientKey, jobElapsedMs, jobKey, newJob } from "./context-values.js";
import { toConnectError } from "./error-mapping.js";

export interface CallInterceptorOptions {
  verifier: TokenVerifier;
  logger: Logger;
  /** Fully-qualified service names callable without a token (health checks). */
  publicServices?: readonly string[];
}

/** Response trailer with the server-side duration of the call, in milliseconds. */
export const responseTimeTrailer = "response-time-ms";

/**
 * Runs around every RPC on every protocol: authenticates the bearer token (nothing is read or
 * written before that), records method, image count, action and outcome on the job, adds the
 * response-time trailer, maps every error to one ConnectError, and logs one line per call.
 */
export function createCallInterceptor(options: CallInterceptorOptions): Interceptor {
  const publicServices = new Set(options.publicServices ?? []);
  const log = options.logger;
  return (next) => async (req) => {
    let job = req.contextValues.get(jobKey);
    if (!job) {
      job = newJob(randomUUID());
      req.contextValues.set(jobKey, job);
    }
    job.method = req.method.name;
    if (!req.stream) job.imageCount = countImages(req.message);
    try {
      if (!publicServices.has(req.service.typeName)) {
        const client = await options.verifier.verifyAuthorization(req.header.get("authorization"));
        req.contextValues.set(clientKey, client);
        job.clientId = client.clientId;
      }
      const res = await next(req);
      job.outcome = 0; // OK: Connect has no name for it
      if (!res.stream) {
        const action = (res.message as { performedAction?: unknown }).performedAction;
        if (typeof action === "number") job.performedAction = enrollmentActionName(action);
      }
      res.trailer.set(responseTimeTrailer, jobElapsedMs(job).toFixed(1));
      log.info({ jobId: job.jobId, client: job.clientId, method: job.method, code: 0 }, "call");
      return res;
    } catch (err) {
      const error = toConnectError(err, job.jobId);
      job.outcome = error.code;
      error.metadata.set(responseTimeTrailer, jobElapsedMs(job).toFixed(1));
      const fields = {
        jobId: job.jobId,
        client: job.clientId,
        method: job.method,
        code: error.code,
        message: error.rawMessage,
      };
      if (
        error.code === Code.Internal ||
        error.code === Code.Unknown ||
        error.code === Code.DataLoss
      ) {
        log.error(
          { ...fields, err: error.cause instanceof Error ? error.cause : undefined },
          "call failed",
        );
      } else {
        log.info(fields, "call");
      }
      throw error;
    }
  };
}

/** Images in a request: the `images` list or a single `image`, the only image-bearing fields. */
function countImages(message: unknown): number {
  const m = message as { images?: unknown; image?: unknown };
  if (Array.isArray(m.images)) return m.images.length;
  return m.image ? 1 : 0;
}

function enrollmentActionName(value: number): string {
  return FaceEnrollmentResponse_EnrollmentAction[value] ?? String(value);
}
