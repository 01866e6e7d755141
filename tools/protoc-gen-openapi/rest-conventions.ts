/**
 * What facevault's REST transcoding does the same way for every service with `google.api.http`
 * rules: the error body, the gRPC code to HTTP status table, the headers every answer carries and
 * the bearer scheme. These are transport facts (src/rest, src/rpc/error-mapping.ts, the wire
 * contract), not facts of one RPC; `openapi-plugin.test.ts` checks the status table against the
 * server's own.
 */

/** One row of the status table: the HTTP status and the gRPC codes (number, name) mapped to it. */
export interface StatusRow {
  status: number;
  codes: readonly (readonly [number, string])[];
  /** What a caller should understand by it. */
  meaning: string;
}

/** gRPC code → HTTP status, grouped by status, as the REST layer answers. */
export const statusTable: readonly StatusRow[] = [
  {
    status: 400,
    codes: [
      [3, "INVALID_ARGUMENT"],
      [9, "FAILED_PRECONDITION"],
      [11, "OUT_OF_RANGE"],
    ],
    meaning: "the request is malformed; the message names the field or image index",
  },
  {
    status: 401,
    codes: [[16, "UNAUTHENTICATED"]],
    meaning: "missing or invalid bearer token; the message says what was wrong",
  },
  {
    status: 403,
    codes: [[7, "PERMISSION_DENIED"]],
    meaning: "the client may not do this",
  },
  { status: 404, codes: [[5, "NOT_FOUND"]], meaning: "no such resource, or no route" },
  {
    status: 408,
    codes: [[1, "CANCELLED"]],
    meaning: "the client went away; the call's work was dropped",
  },
  {
    status: 409,
    codes: [
      [6, "ALREADY_EXISTS"],
      [10, "ABORTED"],
    ],
    meaning: "a conflicting change; retry",
  },
  {
    status: 413,
    codes: [[8, "RESOURCE_EXHAUSTED"]],
    meaning: "the body is over the server's size limit",
  },
  {
    status: 500,
    codes: [
      [13, "INTERNAL"],
      [2, "UNKNOWN"],
      [15, "DATA_LOSS"],
    ],
    meaning: "a server fault; DATA_LOSS: stored data failed its integrity check and was not used",
  },
  { status: 501, codes: [[12, "UNIMPLEMENTED"]], meaning: "not implemented" },
  {
    status: 503,
    codes: [[14, "UNAVAILABLE"]],
    meaning: "overloaded or shutting down; retry later",
  },
  {
    status: 504,
    codes: [[4, "DEADLINE_EXCEEDED"]],
    meaning: "the call took longer than its deadline",
  },
];

/** Response headers on every answer, success or error. */
export const responseHeaders = {
  jobid: {
    description: "A new GUID for this call; quote it when reporting a problem.",
    required: true,
    schema: { type: "string", format: "uuid" },
  },
  "bws-version": {
    description: "Version of the BWS API the server speaks.",
    required: true,
    schema: { type: "string" },
  },
  "reference-number": {
    description:
      "The request's `Reference-Number`, echoed (cut to the server's length limit, control characters removed). Only when the request had one.",
    required: false,
    schema: { type: "string" },
  },
  date: {
    description: "Time of the answer, as an HTTP date.",
    required: true,
    schema: { type: "string" },
  },
} as const;

/** Optional request header every operation takes. */
export const referenceNumberParameter = {
  name: "Reference-Number",
  in: "header",
  required: false,
  description:
    "A caller's own reference for the call: echoed in the answer and kept in the bookkeeping record.",
  schema: { type: "string" },
} as const;

/** The bearer scheme of the wire contract. */
export const bearerScheme = {
  type: "http",
  scheme: "bearer",
  bearerFormat: "JWT",
  description: [
    "A JWS compact token signed with HMAC (HS256, HS384 or HS512) using one of the client's",
    "base64-decoded keys. Claims: `iss` and `sub` are the client id, `aud` is `BWS`, `exp` is",
    "required; `nbf` and `iat` are checked with a small clock tolerance. The token's lifetime",
    "(`exp - iat`) must not exceed the server's `limits.maxTokenLifetimeSeconds` (default one",
    "hour); the `kid` header is ignored.",
  ].join(" "),
} as const;

/** The admin API's scheme: a static key of config `admins[]`, sent as a bearer token. */
export const adminKeyScheme = {
  type: "http",
  scheme: "bearer",
  description: [
    "One of the server's admin keys (config `admins[].key` or `keyFile`), sent as is:",
    "`Authorization: Bearer <key>`. Each key is scoped to storage/partition patterns; a call",
    "about a partition outside them is refused with PERMISSION_DENIED (403).",
  ].join(" "),
} as const;

/** Services authenticated by another scheme than the document's default `bearer`. */
export const serviceSecurity: Readonly<Record<string, string>> = {
  "facevault.admin.v1.Admin": "adminKey",
};

/** The JSON body of every failed call. */
export const errorSchema = {
  type: "object",
  description: "The body of a failed call.",
  required: ["code", "message"],
  additionalProperties: false,
  properties: {
    code: {
      type: "integer",
      minimum: 1,
      maximum: 16,
      description: "The numeric gRPC status code; the HTTP status follows from it (see the table).",
    },
    message: { type: "string", description: "What went wrong, in plain language." },
    details: {
      type: "array",
      description: "Typed error details, where there are any.",
      items: { type: "object" },
    },
  },
} as const;

/** Notes on the JSON encoding that hold for every message of the API. */
export const encodingNotes = [
  "Field names are the proto3 JSON names (lowerCamelCase). Answers carry every field of the",
  "answer message, zero values included (an unset message field is left out).",
  "Enums are written as their value names.",
  "64-bit integers are JSON numbers written with their exact digits; requests may send them as",
  "numbers or as decimal strings.",
  "`bytes` are base64 strings (standard or URL-safe alphabet); requests may also send a data URL",
  "(`data:image/jpeg;base64,...`).",
  "`google.protobuf.Timestamp` values are RFC 3339 strings (`2026-01-31T12:00:00Z`).",
].join(" ");
