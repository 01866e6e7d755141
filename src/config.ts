/**
 * The only reader of the environment and of configuration files. `loadConfig` validates once at
 * start; every problem names the field, so a bad config fails fast with a useful message.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import type { ClientConfig } from "./auth/client-registry.js";
import { FacevaultError } from "./errors.js";
import { DEFAULT_ENCODER_VERSION, encoderVersions } from "./face/encoders.js";

/** Every limit the service enforces; each is a documented setting (README, "Configuration"). */
export interface Limits {
  /** Largest request body or gRPC message accepted, in bytes. Default 50 MiB (the BWS limit). */
  maxRequestBytes: number;
  /** Server-side deadline of one call, in milliseconds. Default 60 000. */
  requestTimeoutMs: number;
  /** Time in-flight calls get to finish on SIGTERM before connections are cut, ms. Default 10 000. */
  shutdownGraceMs: number;
  /** Reference-Number headers are cut to this many characters. Default 128. */
  maxReferenceNumberLength: number;
  /** Images accepted in one Enroll or Search call. Default 32. */
  maxImagesPerRequest: number;
  /** Tags per template or search. Default 64. */
  maxTags: number;
  /** Characters per tag. Default 128. */
  maxTagLength: number;
  /** Matches returned per search image without `topMatches`. Default 100. */
  maxSearchResults: number;
  /** Longest JWT lifetime accepted (`exp - iat`, or `exp - now` without `iat`), s. Default 3600. */
  maxTokenLifetimeSeconds: number;
  /** Deepest nesting of arrays and objects in a REST JSON body. Default 32. */
  maxJsonDepth: number;
}

/** How connections are handled; the limits hold against slow, silent and greedy clients. */
export interface HttpSettings {
  /**
   * Responses (and gRPC/Connect messages) at least this large are compressed when the client
   * accepts gzip or br, in bytes. Default 1024: below it compression costs more than it saves.
   */
  compressMinBytes: number;
  /**
   * Time a connection gets to complete a request's headers (HTTP/1.1), its first bytes (before
   * the protocol is known) or its TLS handshake, ms. Default 10 000. A request's body must then
   * arrive within `limits.requestTimeoutMs` of its arrival, the call's deadline.
   */
  headersTimeoutMs: number;
  /** An idle HTTP/1.1 keep-alive connection is closed after this long, ms. Default 5 000. */
  keepAliveTimeoutMs: number;
  /** An HTTP/2 connection without any frame for this long is closed (GOAWAY), ms. Default 60 000. */
  http2IdleTimeoutMs: number;
  /**
   * A PING goes to every HTTP/2 connection this often; one not answered by the next is closed
   * (a peer that vanished without closing), ms. Default 30 000.
   */
  http2PingIntervalMs: number;
  /** Streams (calls) one HTTP/2 connection may have open at once. Default 100. */
  maxConcurrentStreams: number;
  /** Open connections at most; further ones are closed at once. Default 1000. */
  maxConnections: number;
}

export interface MetricsSettings {
  /** Serve Prometheus metrics at GET /metrics. Default true. */
  enabled: boolean;
  /**
   * Serve them on this port of their own (plain HTTP, `host` as the API) instead of the API's
   * port; undefined (default) means the API's port.
   */
  port?: number;
}

export interface TracingSettings {
  /**
   * True when traces are exported: `tracing.endpoint` is set, or OTEL_EXPORTER_OTLP_ENDPOINT /
   * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is (the SDK then reads the other OTEL_* variables).
   */
  enabled: boolean;
  /** OTLP/HTTP base URL, e.g. http://collector:4318 (traces go to /v1/traces). */
  endpoint?: string;
}

export interface TlsSettings {
  /** PEM certificate chain; re-read on SIGHUP. */
  certFile: string;
  /** PEM private key; re-read on SIGHUP. */
  keyFile: string;
}

export interface FaceSettings {
  /** Engine worker threads. Default: one per core. */
  workers?: number;
  /** Images waiting for a worker before new calls are refused with UNAVAILABLE. Default 64. */
  maxQueue: number;
  /**
   * Encoder version of new templates (src/face/encoders.ts: 1 = faceres 1024-D, 2 = dlib 128-D,
   * 3 = MobileFaceNet 512-D). Default 3.
   */
  encoderVersion: number;
  /** Images with more pixels are refused before decoding (decompression bombs). Default 50 MP. */
  maxInputPixels: number;
}

export interface MatchingSettings {
  /**
   * Score in ]0,1] at or above which Verify and Search call two faces the same person. Default
   * 0.5: each encoder's score is 0.5 at its distance threshold calibrated on LFW for 0.1% false
   * accepts (src/face/README.md).
   */
  minScore: number;
}

export interface TemplateSettings {
  /** Feature vectors kept per template; the oldest are dropped beyond it. Default 32. */
  maxFeatureVectors: number;
}

export interface FacevaultConfig {
  port: number;
  host: string;
  dataDir: string;
  /** SQLite file path, or a postgres:// URL. */
  database: string;
  /** PostgreSQL schema holding facevault's tables. Default "facevault". */
  databaseSchema: string;
  /** Master keys for template encryption, 32 bytes each; the first one seals new data. */
  masterKeys: Uint8Array[];
  /** Reported in the `bws-version` response header. */
  bwsVersion: string;
  logLevel: string;
  limits: Limits;
  http: HttpSettings;
  metrics: MetricsSettings;
  tracing: TracingSettings;
  /** Serve TLS (HTTP/2 and HTTP/1.1 by ALPN) instead of plaintext; absent by default. */
  tls?: TlsSettings;
  face: FaceSettings;
  templates: TemplateSettings;
  matching: MatchingSettings;
  clients: ClientConfig[];
  /** True when no config was given and a local development setup was created. */
  devMode: boolean;
}

export const defaultLimits: Limits = {
  maxRequestBytes: 50 * 1024 * 1024,
  requestTimeoutMs: 60_000,
  shutdownGraceMs: 10_000,
  maxReferenceNumberLength: 128,
  maxImagesPerRequest: 32,
  maxTags: 64,
  maxTagLength: 128,
  maxSearchResults: 100,
  maxJsonDepth: 32,
  maxTokenLifetimeSeconds: 3600,
};

export const defaultHttpSettings: HttpSettings = {
  compressMinBytes: 1024,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  http2IdleTimeoutMs: 60_000,
  http2PingIntervalMs: 30_000,
  maxConcurrentStreams: 100,
  maxConnections: 1000,
};

export const defaultFaceSettings: FaceSettings = {
  maxQueue: 64,
  encoderVersion: DEFAULT_ENCODER_VERSION,
  maxInputPixels: 50_000_000,
};

export const defaultMatchingSettings: MatchingSettings = { minScore: 0.5 };

export const defaultTemplateSettings: TemplateSettings = { maxFeatureVectors: 32 };

/** File names of the development setup inside the data dir. */
export const devFiles = { client: "dev-client.json", masterKey: "master.key" } as const;

export interface LoadConfigOptions {
  /** Path given with --config. */
  configPath?: string;
  /** Environment; default process.env. */
  env?: Record<string, string | undefined>;
  /** Directory relative paths from the environment resolve against; default process.cwd(). */
  cwd?: string;
}

type Json = Record<string, unknown>;

function invalid(field: string, problem: string): FacevaultError {
  return new FacevaultError("invalid_argument", `config: ${field} ${problem}`, { field });
}

/**
 * Reads the configuration: the JSON file from `--config` or FACEVAULT_CONFIG, with PORT,
 * FACEVAULT_DATA_DIR and DATABASE_URL overriding it. Without a file it prepares development
 * mode in the data dir (default ./data): a dev client with a random key and a master key,
 * written once with mode 0600 and reused afterwards.
 */
export function loadConfig(options: LoadConfigOptions = {}): FacevaultConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const configPath = options.configPath ?? env.FACEVAULT_CONFIG;

  let raw: Json = {};
  let base = cwd;
  if (configPath) {
    const path = resolve(cwd, configPath);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      throw new FacevaultError("invalid_argument", `config: cannot read ${path}`, { cause: err });
    }
    try {
      raw = expectObject(JSON.parse(text), "(root)");
    } catch (err) {
      if (err instanceof FacevaultError) throw err;
      throw new FacevaultError("invalid_argument", `config: ${path} is not valid JSON`, {
        cause: err,
      });
    }
    base = dirname(path);
  }

  const dataDir = env.FACEVAULT_DATA_DIR
    ? resolve(cwd, env.FACEVAULT_DATA_DIR)
    : resolve(base, optionalString(raw, "dataDir") ?? "data");
  const port = env.PORT
    ? parsePort(env.PORT, "PORT")
    : (optionalInt(raw, "port", 0, 65535) ?? 8080);
  const databaseSetting = env.DATABASE_URL ?? optionalString(raw, "database");
  const database = databaseSetting
    ? isUrl(databaseSetting) || isAbsolute(databaseSetting)
      ? databaseSetting
      : resolve(env.DATABASE_URL ? cwd : base, databaseSetting)
    : join(dataDir, "facevault.db");

  const devMode = !configPath;
  let masterKeys: Uint8Array[];
  let clients: ClientConfig[];
  if (devMode) {
    const dev = prepareDevSetup(dataDir);
    masterKeys = [dev.masterKey];
    clients = [dev.client];
  } else {
    masterKeys = readMasterKeys(raw, base);
    clients = readClients(raw.clients);
  }

  const limits = readLimits(raw.limits);
  const face = readFace(raw.face);
  const templates = readTemplates(raw.templates);
  // One call's images (or a template's thumbnails, re-encoded on upgrade) must fit the queue.
  if (limits.maxImagesPerRequest > face.maxQueue) {
    throw invalid("limits.maxImagesPerRequest", `must not exceed face.maxQueue (${face.maxQueue})`);
  }
  if (templates.maxFeatureVectors > face.maxQueue) {
    throw invalid(
      "templates.maxFeatureVectors",
      `must not exceed face.maxQueue (${face.maxQueue})`,
    );
  }

  return {
    port,
    host: optionalString(raw, "host") ?? (devMode ? "127.0.0.1" : "0.0.0.0"),
    dataDir,
    database,
    databaseSchema:
      env.FACEVAULT_DATABASE_SCHEMA ?? optionalString(raw, "databaseSchema") ?? "facevault",
    masterKeys,
    bwsVersion: optionalString(raw, "bwsVersion") ?? "3.0.0",
    logLevel: env.LOG_LEVEL ?? optionalString(raw, "logLevel") ?? "info",
    limits,
    http: readHttp(raw.http),
    metrics: readMetrics(raw.metrics),
    tracing: readTracing(raw.tracing, env),
    ...readTls(raw.tls, base),
    face,
    templates,
    matching: readMatching(raw.matching),
    clients,
    devMode,
  };
}

function isUrl(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(value);
}

function parsePort(value: string, field: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw invalid(field, "must be a port number (0 to 65535)");
  }
  return port;
}

function expectObject(value: unknown, field: string): Json {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid(field, "must be a JSON object");
  }
  return value as Json;
}

function optionalString(obj: Json, key: string, field = key): string | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "") throw invalid(field, "must be a non-empty string");
  return value;
}

function optionalInt(obj: Json, key: string, min: number, max: number, field = key) {
  const value = obj[key];
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(field, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

function optionalBool(obj: Json, key: string, field = key): boolean | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  if (typeof value !== "boolean") throw invalid(field, "must be true or false");
  return value;
}

function decodeKey(value: unknown, field: string, minBytes: number, maxBytes = 1024): Uint8Array {
  if (typeof value !== "string" || !/^[A-Za-z0-9+/]+={0,2}$/.test(value.trim())) {
    throw invalid(field, "must be a base64 string");
  }
  const bytes = new Uint8Array(Buffer.from(value.trim(), "base64"));
  if (bytes.length < minBytes || bytes.length > maxBytes) {
    throw invalid(
      field,
      minBytes === maxBytes
        ? `must decode to ${minBytes} bytes (got ${bytes.length})`
        : `must decode to at least ${minBytes} bytes (got ${bytes.length})`,
    );
  }
  return bytes;
}

function readMasterKeys(raw: Json, base: string): Uint8Array[] {
  const inline = raw.masterKey;
  const file = optionalString(raw, "masterKeyFile");
  if ((inline === undefined) === (file === undefined)) {
    throw invalid("masterKey", "or masterKeyFile must be given (exactly one of them)");
  }
  const current =
    file !== undefined
      ? decodeKey(readKeyFile(resolve(base, file), "masterKeyFile"), "masterKeyFile", 32, 32)
      : decodeKey(inline, "masterKey", 32, 32);
  const previous = raw.previousMasterKeys ?? [];
  if (!Array.isArray(previous)) throw invalid("previousMasterKeys", "must be an array");
  return [current, ...previous.map((k, i) => decodeKey(k, `previousMasterKeys[${i}]`, 32, 32))];
}

function readKeyFile(path: string, field: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (err) {
    throw new FacevaultError("invalid_argument", `config: ${field} ${path} cannot be read`, {
      cause: err,
      field,
    });
  }
}

function readClients(value: unknown): ClientConfig[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw invalid("clients", "must be a non-empty array");
  }
  const seen = new Set<string>();
  return value.map((entry, i) => {
    const field = `clients[${i}]`;
    const obj = expectObject(entry, field);
    const clientId = optionalString(obj, "clientId", `${field}.clientId`);
    if (!clientId) throw invalid(`${field}.clientId`, "is required");
    if (seen.has(clientId)) throw invalid(`${field}.clientId`, `'${clientId}' is listed twice`);
    seen.add(clientId);
    const keys = obj.keys;
    if (!Array.isArray(keys) || keys.length === 0) {
      throw invalid(`${field}.keys`, "must be a non-empty array of base64 keys");
    }
    const storage = optionalString(obj, "storage", `${field}.storage`) ?? "bws";
    return {
      clientId,
      // 32 bytes at least: shorter HMAC keys are guessable; vendor keys are 64.
      keys: keys.map((k, j) => decodeKey(k, `${field}.keys[${j}]`, 32)),
      storage,
      partition: optionalInt(obj, "partition", 0, 2 ** 31 - 1, `${field}.partition`) ?? 0,
      storeThumbnails: optionalBool(obj, "storeThumbnails", `${field}.storeThumbnails`) ?? true,
      encryptCompactTemplate:
        optionalBool(obj, "encryptCompactTemplate", `${field}.encryptCompactTemplate`) ?? false,
    };
  });
}

function readLimits(value: unknown): Limits {
  if (value === undefined) return { ...defaultLimits };
  const obj = expectObject(value, "limits");
  const int = (key: keyof Limits, min: number, max: number) =>
    optionalInt(obj, key, min, max, `limits.${key}`) ?? defaultLimits[key];
  return {
    maxRequestBytes: int("maxRequestBytes", 1024, 1024 ** 3),
    requestTimeoutMs: int("requestTimeoutMs", 100, 3_600_000),
    shutdownGraceMs: int("shutdownGraceMs", 0, 600_000),
    maxReferenceNumberLength: int("maxReferenceNumberLength", 1, 4096),
    maxImagesPerRequest: int("maxImagesPerRequest", 1, 1000),
    maxTags: int("maxTags", 0, 10_000),
    maxTagLength: int("maxTagLength", 1, 10_000),
    maxSearchResults: int("maxSearchResults", 1, 10_000),
    maxJsonDepth: int("maxJsonDepth", 2, 1000),
    maxTokenLifetimeSeconds: int("maxTokenLifetimeSeconds", 60, 86_400),
  };
}

function readHttp(value: unknown): HttpSettings {
  const obj = value === undefined ? {} : expectObject(value, "http");
  const int = (key: keyof HttpSettings, min: number, max: number) =>
    optionalInt(obj, key, min, max, `http.${key}`) ?? defaultHttpSettings[key];
  return {
    compressMinBytes: int("compressMinBytes", 0, 1024 ** 3),
    headersTimeoutMs: int("headersTimeoutMs", 100, 600_000),
    keepAliveTimeoutMs: int("keepAliveTimeoutMs", 100, 600_000),
    http2IdleTimeoutMs: int("http2IdleTimeoutMs", 100, 3_600_000),
    http2PingIntervalMs: int("http2PingIntervalMs", 100, 3_600_000),
    maxConcurrentStreams: int("maxConcurrentStreams", 1, 10_000),
    maxConnections: int("maxConnections", 1, 1_000_000),
  };
}

function readTracing(value: unknown, env: Record<string, string | undefined>): TracingSettings {
  const obj = value === undefined ? {} : expectObject(value, "tracing");
  const endpoint = optionalString(obj, "endpoint", "tracing.endpoint");
  if (endpoint !== undefined && !isUrl(endpoint))
    throw invalid("tracing.endpoint", "must be a URL");
  const fromEnv = Boolean(
    env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
  );
  return { enabled: endpoint !== undefined || fromEnv, ...(endpoint ? { endpoint } : {}) };
}

function readMetrics(value: unknown): MetricsSettings {
  const obj = value === undefined ? {} : expectObject(value, "metrics");
  const port = optionalInt(obj, "port", 0, 65535, "metrics.port");
  return {
    enabled: optionalBool(obj, "enabled", "metrics.enabled") ?? true,
    ...(port === undefined ? {} : { port }),
  };
}

function readTls(value: unknown, base: string): { tls?: TlsSettings } {
  if (value === undefined) return {};
  const obj = expectObject(value, "tls");
  const certFile = optionalString(obj, "certFile", "tls.certFile");
  const keyFile = optionalString(obj, "keyFile", "tls.keyFile");
  if (!certFile || !keyFile) throw invalid("tls", "needs both certFile and keyFile");
  return { tls: { certFile: resolve(base, certFile), keyFile: resolve(base, keyFile) } };
}

function readFace(value: unknown): FaceSettings {
  const obj = value === undefined ? {} : expectObject(value, "face");
  const workers = optionalInt(obj, "workers", 1, 64, "face.workers");
  return {
    ...(workers === undefined ? {} : { workers }),
    maxQueue:
      optionalInt(obj, "maxQueue", 0, 100_000, "face.maxQueue") ?? defaultFaceSettings.maxQueue,
    encoderVersion:
      optionalInt(
        obj,
        "encoderVersion",
        Math.min(...encoderVersions()),
        Math.max(...encoderVersions()),
        "face.encoderVersion",
      ) ?? defaultFaceSettings.encoderVersion,
    maxInputPixels:
      optionalInt(obj, "maxInputPixels", 1, 1_000_000_000, "face.maxInputPixels") ??
      defaultFaceSettings.maxInputPixels,
  };
}

function readTemplates(value: unknown): TemplateSettings {
  const obj = value === undefined ? {} : expectObject(value, "templates");
  return {
    maxFeatureVectors:
      optionalInt(obj, "maxFeatureVectors", 1, 10_000, "templates.maxFeatureVectors") ??
      defaultTemplateSettings.maxFeatureVectors,
  };
}

function readMatching(value: unknown): MatchingSettings {
  const obj = value === undefined ? {} : expectObject(value, "matching");
  const minScore = obj.minScore ?? defaultMatchingSettings.minScore;
  if (typeof minScore !== "number" || !(minScore > 0 && minScore <= 1)) {
    throw invalid("matching.minScore", "must be a number in ]0,1]");
  }
  return { minScore };
}

interface DevSetup {
  client: ClientConfig;
  masterKey: Uint8Array;
}

/** Creates (once) and reads the development client and master key, files with mode 0600. */
function prepareDevSetup(dataDir: string): DevSetup {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const keyPath = join(dataDir, devFiles.masterKey);
  const clientPath = join(dataDir, devFiles.client);
  writeSecretOnce(keyPath, () => randomBytes(32).toString("base64"));
  writeSecretOnce(clientPath, () =>
    JSON.stringify(
      {
        clientId: `dev-${randomUUID().slice(0, 8)}`,
        keys: [randomBytes(64).toString("base64")],
        storage: "dev",
        partition: 1,
        storeThumbnails: true,
        encryptCompactTemplate: false,
      },
      null,
      2,
    ),
  );
  const masterKey = decodeKey(readKeyFile(keyPath, devFiles.masterKey), devFiles.masterKey, 32, 32);
  let clientJson: unknown;
  try {
    clientJson = JSON.parse(readFileSync(clientPath, "utf8"));
  } catch (err) {
    throw new FacevaultError("invalid_argument", `config: ${clientPath} is not valid JSON`, {
      cause: err,
    });
  }
  const [client] = readClients([clientJson]);
  if (!client) throw invalid(devFiles.client, "holds no client");
  return { client, masterKey };
}

function writeSecretOnce(path: string, make: () => string): void {
  if (existsSync(path)) return;
  writeFileSync(path, `${make()}\n`, { mode: 0o600, flag: "wx" });
  chmodSync(path, 0o600);
}

/**
 * Reads the TLS certificate chain and key named by the config (at start and on SIGHUP).
 * @throws FacevaultError `invalid_argument` naming the file that cannot be read.
 */
export function readTlsFiles(tls: TlsSettings): { cert: Buffer; key: Buffer } {
  const read = (path: string, field: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new FacevaultError("invalid_argument", `config: ${field} ${path} cannot be read`, {
        cause: err,
        field,
      });
    }
  };
  return { cert: read(tls.certFile, "tls.certFile"), key: read(tls.keyFile, "tls.keyFile") };
}
