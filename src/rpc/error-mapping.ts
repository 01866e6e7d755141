import { Code, ConnectError } from "@connectrpc/connect";
import { type ErrorKind, FacevaultError } from "../errors.js";

const codeByKind: Record<ErrorKind, Code> = {
  cancelled: Code.Canceled,
  unknown: Code.Unknown,
  invalid_argument: Code.InvalidArgument,
  deadline_exceeded: Code.DeadlineExceeded,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  permission_denied: Code.PermissionDenied,
  resource_exhausted: Code.ResourceExhausted,
  failed_precondition: Code.FailedPrecondition,
  aborted: Code.Aborted,
  out_of_range: Code.OutOfRange,
  unimplemented: Code.Unimplemented,
  internal: Code.Internal,
  unavailable: Code.Unavailable,
  data_loss: Code.DataLoss,
  unauthenticated: Code.Unauthenticated,
};

/**
 * The one table from gRPC code to HTTP status (wire contract, "Outcomes and status codes").
 * REST answers and the REST fallback use it; Connect's own protocol keeps its own table.
 */
const httpStatusByCode: Record<Code, number> = {
  [Code.Canceled]: 408,
  [Code.Unknown]: 500,
  [Code.InvalidArgument]: 400,
  [Code.DeadlineExceeded]: 504,
  [Code.NotFound]: 404,
  [Code.AlreadyExists]: 409,
  [Code.PermissionDenied]: 403,
  // Only request-size limits raise RESOURCE_EXHAUSTED here; a rate limiter would use 429.
  [Code.ResourceExhausted]: 413,
  [Code.FailedPrecondition]: 400,
  [Code.Aborted]: 409,
  [Code.OutOfRange]: 400,
  [Code.Unimplemented]: 501,
  [Code.Internal]: 500,
  [Code.Unavailable]: 503,
  [Code.DataLoss]: 500,
  [Code.Unauthenticated]: 401,
};

/** HTTP status for a gRPC code, per the wire contract. */
export function httpStatusFromCode(code: Code): number {
  return httpStatusByCode[code] ?? 500;
}

/** gRPC code for a domain error kind. */
export function codeFromKind(kind: ErrorKind): Code {
  return codeByKind[kind];
}

/**
 * Turns anything thrown below the transport into the ConnectError sent to the client.
 * Unexpected errors become INTERNAL with a message that leaks nothing but the job id.
 */
export function toConnectError(err: unknown, jobId = ""): ConnectError {
  const error = asConnectError(err, jobId);
  // UNAVAILABLE is always worth a retry (queue full, database unreachable, shutting down).
  if (error.code === Code.Unavailable) error.metadata.set("retry-after", retryAfterSeconds);
  return error;
}

/** Seconds a client is asked to wait before retrying an UNAVAILABLE call (`Retry-After`). */
const retryAfterSeconds = "1";

function asConnectError(err: unknown, jobId: string): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof FacevaultError) {
    return new ConnectError(err.message, codeFromKind(err.kind), undefined, undefined, err);
  }
  if (err instanceof DOMException && err.name === "TimeoutError") {
    return new ConnectError(
      "the call took longer than the server's deadline",
      Code.DeadlineExceeded,
    );
  }
  if (err instanceof DOMException && err.name === "AbortError") {
    return new ConnectError("the call was cancelled", Code.Canceled);
  }
  const suffix = jobId ? ` (job ${jobId})` : "";
  return new ConnectError(`internal error${suffix}`, Code.Internal, undefined, undefined, err);
}
