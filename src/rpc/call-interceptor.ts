import { randomUUID } from "node:crypto";
import { Code, type ContextValues, type Interceptor } from "@connectrpc/connect";
import type { Span, Tracer } from "@opentelemetry/api";
import type { Logger } from "pino";
import { FaceEnrollmentResponse_EnrollmentAction } from "../../gen/bioid/services/v1/face_recognition_pb.js";
import type { TokenVerifier } from "../auth/token-verifier.js";
import { endCallSpan, startCallSpan } from "../telemetry/tracing.js";
import {
  type CallProtocol,
  clientKey,
  type Job,
  jobElapsedMs,
  jobKey,
  newJob,
} from "./context-values.js";
import { toConnectError } from "./error-mapping.js";

/**
 * Authenticates a call of a service with its own credentials: checks the Authorization header,
 * puts the caller into the call's context values, and returns the id its bookkeeping record
 * names as client.
 * @throws FacevaultError `unauthenticated`
 */
export type CallAuthenticator = (
  authorization: string | null,
  values: ContextValues,
) => Promise<string> | string;

export interface CallInterceptorOptions {
  /** Authenticates the calls of every service without an entry in `authenticators`. */
  verifier: TokenVerifier;
  /** Services authenticated otherwise (the admin API), by fully-qualified name. */
  authenticators?: Readonly<Record<string, CallAuthenticator>>;
  logger: Logger;
  /** Fully-qualified service names callable without a token and without bookkeeping (health). */
  publicServices?: readonly string[];
  /** Writes the bookkeeping record of a finished call. Default: none (in-memory tests). */
  record?: (job: Job) => void;
  /** Told about every finished call (metrics). */
  onCallEnded?: (job: Job, code: string) => void;
  /** Traces every call as a server span (with everything it does under it). Default none. */
  tracer?: Tracer;
}

/** Response trailer with the server-side duration of the call, in milliseconds. */
export const responseTimeTrailer = "response-time-ms";

/**
 * Runs around every RPC on every protocol, REST included: authenticates the bearer token
 * (nothing is read or written before that), completes the call's job (method, client, image
 * count, action, outcome) and writes its bookkeeping record, adds the response-time trailer,
 * maps every error to one ConnectError, and logs one line per call.
 */
export function createCallInterceptor(options: CallInterceptorOptions): Interceptor {
  const publicServices = new Set(options.publicServices ?? []);
  const log = options.logger;
  return (next) => async (req) => {
    if (publicServices.has(req.service.typeName)) return next(req);
    let job = req.contextValues.get(jobKey);
    if (!job) {
      job = newJob(randomUUID());
      req.contextValues.set(jobKey, job);
    }
    const current = job;
    current.method = req.method.name;
    current.protocol ??= protocolOf(req.header);
    if (!req.stream) current.imageCount = countImages(req.message);

    const call = async (span?: Span) => {
      let message: string | undefined;
      try {
        const authorization = req.header.get("authorization");
        const authenticate = options.authenticators?.[req.service.typeName];
        if (authenticate) {
          current.clientId = await authenticate(authorization, req.contextValues);
        } else {
          const client = await options.verifier.verifyAuthorization(authorization);
          req.contextValues.set(clientKey, client);
          current.clientId = client.clientId;
        }
        const res = await next(req);
        current.outcome = 0; // OK: Connect has no name for it
        if (!res.stream) {
          const action = (res.message as { performedAction?: unknown }).performedAction;
          if (typeof action === "number") current.performedAction = enrollmentActionName(action);
        }
        res.trailer.set(responseTimeTrailer, jobElapsedMs(current).toFixed(1));
        log.info(logFields(current), "call");
        return res;
      } catch (err) {
        const error = toConnectError(err, current.jobId);
        current.outcome = error.code;
        message = error.rawMessage;
        error.metadata.set(responseTimeTrailer, jobElapsedMs(current).toFixed(1));
        const fields = { ...logFields(current), message };
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
      } finally {
        options.record?.(current);
        options.onCallEnded?.(current, codeName(current.outcome ?? Code.Unknown));
        if (span) endCallSpan(span, current.outcome ?? Code.Unknown, message);
      }
    };
    if (!options.tracer) return call();
    return startCallSpan(
      options.tracer,
      {
        service: req.service.typeName,
        method: req.method.name,
        protocol: current.protocol ?? "connect",
        jobId: current.jobId,
      },
      call,
    );
  };
}

function logFields(job: Job) {
  return {
    jobId: job.jobId,
    client: job.clientId,
    method: job.method,
    protocol: job.protocol,
    code: job.outcome,
  };
}

/** The protocol of a Connect-served call, from its content type (REST sets its own). */
function protocolOf(header: Headers): CallProtocol {
  const type = header.get("content-type") ?? "";
  if (type.startsWith("application/grpc-web")) return "grpc-web";
  if (type.startsWith("application/grpc")) return "grpc";
  return "connect";
}

/** Images in a request: the `images` list or a single `image`, the only image-bearing fields. */
function countImages(message: unknown): number {
  const m = message as { images?: unknown; image?: unknown };
  if (Array.isArray(m.images)) return m.images.length;
  return m.image ? 1 : 0;
}

/** The canonical gRPC name of a code, e.g. INVALID_ARGUMENT (Connect's enum says InvalidArgument). */
function codeName(code: number): string {
  if (code === 0) return "OK";
  return (Code[code] ?? "Unknown").replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

function enrollmentActionName(value: number): string {
  return FaceEnrollmentResponse_EnrollmentAction[value] ?? String(value);
}
