/**
 * The configuration file's schema: every setting, its type, bounds and default, in one place.
 * `src/config.ts` reads the file and the environment through it; the README's configuration
 * table documents the same settings. Unknown keys are refused with their path.
 */
import { z } from "zod";
import { ADMIN_SCOPE } from "./auth/admin-keys.js";
import { DEFAULT_ENCODER_VERSION, encoderVersions } from "./face/encoders.js";

// Each type carries the message the error will show, after the setting's path.
const int = (min: number, max: number) => {
  const error = `must be an integer from ${min} to ${max}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};
/** A number in ]0,1]: a score, a share or a bar measured as a share. */
const share = () => {
  const error = "must be a number in ]0,1]";
  return z.number({ error }).gt(0, { error }).max(1, { error });
};
const text = () =>
  z.string({ error: "must be a non-empty string" }).min(1, "must be a non-empty string");
const flag = () => z.boolean({ error: "must be true or false" });
const list = <T extends z.ZodType>(item: T) =>
  z.array(item, { error: "must be an array" }).min(1, "must be a non-empty array");
/** An object of settings whose every field has a default: absent means all defaults. */
const section = <T extends z.core.$ZodLooseShape>(shape: T) =>
  z.strictObject(shape, { error: "must be a JSON object" }).prefault({} as never); // every field has a default

/** A base64 key as written in the file; decoded and length-checked by config.ts. */
const base64 = () =>
  z
    .string({ error: "must be a base64 string" })
    .regex(/^\s*[A-Za-z0-9+/]+={0,2}\s*$/, "must be a base64 string");

export const limitsSchema = section({
  /** Largest request body or gRPC message accepted, in bytes (50 MiB: the BWS limit). */
  maxRequestBytes: int(1024, 1024 ** 3).default(50 * 1024 * 1024),
  /** Server-side deadline of one call from its arrival, ms; longer client deadlines are cut. */
  requestTimeoutMs: int(100, 3_600_000).default(60_000),
  /** Time in-flight calls get to finish on SIGTERM before connections are cut, ms. */
  shutdownGraceMs: int(0, 600_000).default(10_000),
  /** Reference-Number headers are cut to this many characters. */
  maxReferenceNumberLength: int(1, 4096).default(128),
  /** Images accepted in one Enroll or Search call. */
  maxImagesPerRequest: int(1, 1000).default(32),
  /** Tags per template or search. */
  maxTags: int(0, 10_000).default(64),
  /** Characters per tag. */
  maxTagLength: int(1, 10_000).default(128),
  /** Matches returned per search image without `topMatches`. */
  maxSearchResults: int(1, 10_000).default(100),
  /** Deepest nesting of arrays and objects in a REST JSON body. */
  maxJsonDepth: int(2, 1000).default(32),
  /** Longest JWT lifetime accepted (`exp - iat`, or `exp - now` without `iat`), s. */
  maxTokenLifetimeSeconds: int(60, 86_400).default(3600),
});

export const httpSchema = section({
  /** Answers (and gRPC/Connect messages) at least this large are compressed when accepted, bytes. */
  compressMinBytes: int(0, 1024 ** 3).default(1024),
  /** A connection's first bytes, HTTP/1.1 headers and TLS handshake must arrive within it, ms. */
  headersTimeoutMs: int(100, 600_000).default(10_000),
  /** An idle HTTP/1.1 keep-alive connection is closed after this long, ms. */
  keepAliveTimeoutMs: int(100, 600_000).default(5_000),
  /** An HTTP/2 connection without any frame for this long is closed (GOAWAY), ms. */
  http2IdleTimeoutMs: int(100, 3_600_000).default(60_000),
  /** Every HTTP/2 connection is PINGed this often; one silent until the next is closed, ms. */
  http2PingIntervalMs: int(100, 3_600_000).default(30_000),
  /** Streams (calls) one HTTP/2 connection may have open at once. */
  maxConcurrentStreams: int(1, 10_000).default(100),
  /** Open connections at most; further ones are closed at once. */
  maxConnections: int(1, 1_000_000).default(1000),
});

export const metricsSchema = section({
  /** Serve Prometheus metrics at GET /metrics. */
  enabled: flag().default(true),
  /** Serve them on a port of their own instead of the API's. */
  port: int(0, 65535).optional(),
});

export const tracingSchema = section({
  /** OTLP/HTTP collector URL; OTEL_EXPORTER_OTLP_ENDPOINT turns tracing on as well. */
  endpoint: z.url({ error: "must be a URL" }).optional(),
});

export const tlsSchema = z.strictObject(
  {
    /** PEM certificate chain; re-read on SIGHUP. Relative to the config file. */
    certFile: text(),
    /** PEM private key; re-read on SIGHUP. Relative to the config file. */
    keyFile: text(),
  },
  { error: "must be a JSON object with certFile and keyFile" },
);

export const faceSchema = section({
  /** Engine worker threads (200 to 300 MB each). Default: one per core. */
  workers: int(1, 64).optional(),
  /** Images waiting for a worker; beyond it calls get UNAVAILABLE. */
  maxQueue: int(0, 100_000).default(64),
  /** Encoder of new templates (src/face/encoders.ts). */
  encoderVersion: int(Math.min(...encoderVersions()), Math.max(...encoderVersions())).default(
    DEFAULT_ENCODER_VERSION,
  ),
  /** Larger images (per their header) are refused before decoding. */
  maxInputPixels: int(1, 1_000_000_000).default(50_000_000),
  /**
   * At shutdown, how long a worker may finish the image it analyses before it is stopped, ms:
   * stopping a thread inside onnxruntime's inference can abort the whole process.
   */
  closeWaitMs: int(0, 600_000).default(10_000),
  /**
   * Images a worker holds at once, counting the one being decoded for it: at 2 the next image
   * decodes while the worker runs another's models (models never overlap); 1 sends the next
   * image only after the last answer.
   */
  jobsPerWorker: int(1, 8).default(2),
});

export const templatesSchema = section({
  /** Feature vectors (and thumbnails) kept per template; the oldest are dropped beyond it. */
  maxFeatureVectors: int(1, 10_000).default(32),
});

export const searchSchema = section({
  /**
   * Threads that scan a share of each large partition's index beside the calling thread
   * (partitions of at least 32,768 templates); 0 scans on the event loop's thread alone.
   */
  scanThreads: int(0, 64).default(1),
  /** Longest wait for a scan thread's share before the server scans it itself, ms. */
  scanThreadTimeoutMs: int(10, 60_000).default(5000),
  /**
   * Load the search index of every configured client's partition in the background when the
   * server starts listening, so a large partition's first Search does not wait for it; false
   * loads a partition at its first Search.
   */
  preload: flag().default(true),
});

export const matchingSchema = section({
  /** Verify/Search decision: each encoder's score is 0.5 at 0.1% false accepts on LFW. */
  minScore: share().default(0.5),
});

export const bookkeepingSchema = section({
  /** Call records older than this many days are deleted; 0 keeps them forever. */
  retentionDays: int(0, 36_500).default(0),
  /** How often old records are pruned while the server runs (with retentionDays > 0), minutes. */
  pruneIntervalMinutes: int(1, 10_080).default(60),
});

/** Liveness detection (LivenessDetection, PhotoVerify, VideoLivenessDetection); see README. */
export const livenessSchema = section({
  /** Texture liveness score in ]0,1] at and above which an image's face passes passive liveness. */
  passiveMinScore: z
    .number({ error: "must be a number in [0,1]" })
    .min(0, "must be a number in [0,1]")
    .max(1, "must be a number in [0,1]")
    .default(0.2),
  /** Planar-fit residual (share of the eye distance) at and above which motion is a real head's. */
  activeMinResidual: share().default(0.025),
  /** Active liveness evidence: the face's tracked pixels, or the face mesh (the older mode). */
  activeEvidence: z
    .enum(["pixels", "mesh"], { error: "must be one of pixels, mesh" })
    .default("pixels"),
  /**
   * Coherent pixel residual (share of the eye distance; pixel-parallax.ts) at and above which
   * motion is a head's.
   */
  activeMinPixelResidual: share().default(0.0105),
  /** Two images whose pixels cannot be followed: not live (`reject`) or judged by the mesh. */
  untrackedPairs: z
    .enum(["reject", "mesh"], { error: "must be one of reject, mesh" })
    .default("reject"),
  /** Smallest head turn between two images, in degrees, that counts as a movement. */
  minMovementDegrees: z
    .number({ error: "must be a number from 0.5 to 45" })
    .min(0.5, "must be a number from 0.5 to 45")
    .max(45, "must be a number from 0.5 to 45")
    .default(4),
  /** Frames sampled from a video for VideoLivenessDetection. */
  videoFrames: int(2, 16).default(4),
});

export const clientSchema = z.strictObject(
  {
    /** JWT `iss`/`sub`. */
    clientId: text(),
    /** HMAC keys, base64 of at least 32 bytes; several = rotation. */
    keys: list(base64()),
    storage: text().default("bws"),
    partition: int(0, 2 ** 31 - 1).default(0),
    /** Keep face thumbnails (needed to upgrade to a new encoder). */
    storeThumbnails: flag().default(true),
    /** Seal compact templates per template instead of under the partition key. */
    encryptCompactTemplate: flag().default(false),
  },
  { error: "must be a JSON object" },
);

export const adminSchema = z.strictObject(
  {
    /** Names the admin in logs and in the call log (client `admin:<id>`). */
    id: text(),
    /** Bearer key, at least 32 characters; exactly one of key and keyFile. */
    key: z
      .string({ error: "must be a string of at least 32 characters" })
      .min(32, "must be a string of at least 32 characters")
      .optional(),
    /** File holding the key (trimmed). Relative to the config file. */
    keyFile: text().optional(),
    /** `*`, `<storage>/*` or `<storage>/<partition>`: what the key may see and change. */
    scopes: list(
      z
        .string({ error: "must be *, <storage>/* or <storage>/<partition>" })
        .regex(ADMIN_SCOPE, "must be *, <storage>/* or <storage>/<partition>"),
    ),
  },
  { error: "must be a JSON object" },
);

/** The configuration file. Absent keys take their defaults; unknown keys are refused. */
export const configFileSchema = z.strictObject(
  {
    port: int(0, 65535).default(8080),
    /** Default 0.0.0.0; development mode 127.0.0.1. */
    host: text().optional(),
    /** Development files and the default SQLite database; relative to the config file. */
    dataDir: text().default("data"),
    /** SQLite file (relative to the config file) or a postgres:// URL. Default <dataDir>/facevault.db. */
    database: text().optional(),
    databaseSchema: text().default("facevault"),
    /** Base64 of 32 bytes; exactly one of masterKey and masterKeyFile (outside development mode). */
    masterKey: base64().optional(),
    masterKeyFile: text().optional(),
    /** Older master keys still accepted for reading (rotation). */
    previousMasterKeys: z.array(base64(), { error: "must be an array" }).default([]),
    bwsVersion: text().default("3.0.0"),
    logLevel: z
      .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], {
        error: "must be one of fatal, error, warn, info, debug, trace, silent",
      })
      .default("info"),
    limits: limitsSchema,
    http: httpSchema,
    metrics: metricsSchema,
    tracing: tracingSchema,
    tls: tlsSchema.optional(),
    face: faceSchema,
    templates: templatesSchema,
    matching: matchingSchema,
    search: searchSchema,
    bookkeeping: bookkeepingSchema,
    liveness: livenessSchema,
    /** Required outside development mode. */
    clients: list(clientSchema).optional(),
    /** Keys of the admin API and page (facevault.admin.v1.Admin). None: no admin access. */
    admins: z.array(adminSchema, { error: "must be an array" }).default([]),
  },
  { error: "must be a JSON object" },
);

export type ConfigFile = z.output<typeof configFileSchema>;
export type Limits = ConfigFile["limits"];
export type HttpSettings = ConfigFile["http"];
export type MetricsSettings = ConfigFile["metrics"];
export type FaceSettings = ConfigFile["face"];
export type MatchingSettings = ConfigFile["matching"];
export type SearchSettings = ConfigFile["search"];
export type TemplateSettings = ConfigFile["templates"];
export type BookkeepingSettings = ConfigFile["bookkeeping"];
export type LivenessSettings = ConfigFile["liveness"];
export type TlsSettings = z.output<typeof tlsSchema>;

/** Settings whose values are secrets: redacted wherever the configuration is shown. */
export const secretSettings = ["masterKey", "previousMasterKeys", "keys", "key"] as const;
