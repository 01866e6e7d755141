/**
 * The one domain error type. Code below the transport (face pipeline, store, templates, auth)
 * throws it with a gRPC-style kind; `src/rpc/error-mapping.ts` turns it into a ConnectError at the
 * edge, and the REST layer maps that code to an HTTP status through one table.
 *
 * Kinds are the canonical gRPC status names in snake case so the mapping is mechanical and the
 * domain code never imports Connect.
 */
export type ErrorKind =
  | "cancelled"
  | "unknown"
  | "invalid_argument"
  | "deadline_exceeded"
  | "not_found"
  | "already_exists"
  | "permission_denied"
  | "resource_exhausted"
  | "failed_precondition"
  | "aborted"
  | "out_of_range"
  | "unimplemented"
  | "internal"
  | "unavailable"
  | "data_loss"
  | "unauthenticated";

export interface FacevaultErrorOptions {
  /** The underlying error, kept for logs; never sent to clients. */
  cause?: unknown;
  /** The request field or image the error is about, e.g. `classId` or `images[2]`. */
  field?: string;
}

export class FacevaultError extends Error {
  override readonly name = "FacevaultError";
  readonly kind: ErrorKind;
  readonly field: string | undefined;

  constructor(kind: ErrorKind, message: string, options: FacevaultErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.field = options.field;
  }
}

/** True when `err` is a FacevaultError, optionally of the given kind. */
export function isFacevaultError(err: unknown, kind?: ErrorKind): err is FacevaultError {
  return err instanceof FacevaultError && (kind === undefined || err.kind === kind);
}
