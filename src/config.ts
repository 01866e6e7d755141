/**
 * The only reader of the environment and of configuration files. `loadConfig` reads the file and
 * the environment through one schema (src/config-schema.ts: every setting, bound and default),
 * validates once at start and names the setting of every problem, so a bad config (a typo
 * included: unknown keys are refused) fails fast with a useful message.
 *
 * Every setting can also come from the environment, which wins over the file. The rule:
 * `FACEVAULT_` and the setting's path in upper snake case, `__` between levels, e.g.
 * `FACEVAULT_PORT`, `FACEVAULT_FACE__MAX_QUEUE`, `FACEVAULT_LIMITS__MAX_REQUEST_BYTES`;
 * lists and objects as JSON (`FACEVAULT_CLIENTS='[...]'`). `PORT`, `DATABASE_URL` and
 * `LOG_LEVEL` are accepted too, as platforms set them.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import type { z } from "zod";
import type { AdminConfig } from "./auth/admin-keys.js";
import type { ClientConfig } from "./auth/client-registry.js";
import {
  type adminSchema,
  type BookkeepingSettings,
  type ConfigFile,
  clientSchema,
  configFileSchema,
  type FaceSettings,
  type HttpSettings,
  type Limits,
  type LivenessSettings,
  type MatchingSettings,
  type MetricsSettings,
  type SearchSettings,
  secretSettings,
  type TemplateSettings,
  type TlsSettings,
} from "./config-schema.js";
import { FacevaultError } from "./errors.js";

export type {
  BookkeepingSettings,
  FaceSettings,
  HttpSettings,
  Limits,
  LivenessSettings,
  MatchingSettings,
  MetricsSettings,
  SearchSettings,
  TemplateSettings,
  TlsSettings,
};

export interface TracingSettings {
  /**
   * True when traces are exported: `tracing.endpoint` is set, or OTEL_EXPORTER_OTLP_ENDPOINT /
   * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is (the SDK then reads the other OTEL_* variables).
   */
  enabled: boolean;
  /** OTLP/HTTP base URL, e.g. http://collector:4318 (traces go to /v1/traces). */
  endpoint?: string;
}

/** The validated configuration the composition root builds from. */
export interface FacevaultConfig {
  port: number;
  host: string;
  /** Absolute. */
  dataDir: string;
  /** Absolute SQLite file path, or a postgres:// URL. */
  database: string;
  /** PostgreSQL schema holding facevault's tables. */
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
  search: SearchSettings;
  bookkeeping: BookkeepingSettings;
  liveness: LivenessSettings;
  clients: ClientConfig[];
  /** Admin API keys with their scopes; empty: the admin API refuses every call. */
  admins: AdminConfig[];
  /** True when no config was given and a local development setup was created. */
  devMode: boolean;
}

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

/** What `loadConfig` read, before it is turned into a FacevaultConfig. */
interface ReadConfig {
  file: ConfigFile;
  /** Folder of the config file (or the working directory): relative paths in it resolve here. */
  base: string;
  cwd: string;
  /** Settings (dotted paths) the environment gave, with the variable: their relative paths
   * resolve against cwd. */
  fromEnv: Map<string, string>;
  configPath: string | undefined;
  env: Record<string, string | undefined>;
}

/**
 * Reads and validates the configuration: the JSON file from `--config` or FACEVAULT_CONFIG, the
 * environment over it. Without a file (and without clients from the environment) it prepares
 * development mode in the data dir (default ./data): a dev client with a random key and a master
 * key, written once with mode 0600 and reused afterwards.
 * @throws FacevaultError `invalid_argument` naming the setting (or the file) at fault.
 */
export function loadConfig(options: LoadConfigOptions = {}): FacevaultConfig {
  const read = readConfig(options);
  const { file, base, cwd, fromEnv } = read;
  const at = (path: string) => (fromEnv.has(path) ? cwd : base);

  const dataDir = resolve(at("dataDir"), file.dataDir);
  const database = file.database
    ? isUrl(file.database) || isAbsolute(file.database)
      ? file.database
      : resolve(at("database"), file.database)
    : join(dataDir, "facevault.db");

  const devMode =
    !read.configPath &&
    file.clients === undefined &&
    file.masterKey === undefined &&
    file.masterKeyFile === undefined;
  let masterKeys: Uint8Array[];
  let clients: ClientConfig[];
  if (devMode) {
    const dev = prepareDevSetup(dataDir);
    masterKeys = [dev.masterKey];
    clients = [dev.client];
  } else {
    masterKeys = readMasterKeys(file, at("masterKeyFile"));
    if (!file.clients) throw invalid("clients", "must be a non-empty array");
    clients = readClients(file.clients);
  }

  // One call's images (or a template's thumbnails, re-encoded on upgrade) must fit the queue.
  if (file.limits.maxImagesPerRequest > file.face.maxQueue) {
    throw invalid(
      "limits.maxImagesPerRequest",
      `must not exceed face.maxQueue (${file.face.maxQueue})`,
    );
  }
  if (file.templates.maxFeatureVectors > file.face.maxQueue) {
    throw invalid(
      "templates.maxFeatureVectors",
      `must not exceed face.maxQueue (${file.face.maxQueue})`,
    );
  }
  const env = read.env;
  return {
    port: file.port,
    host: file.host ?? (devMode ? "127.0.0.1" : "0.0.0.0"),
    dataDir,
    database,
    databaseSchema: file.databaseSchema,
    masterKeys,
    bwsVersion: file.bwsVersion,
    logLevel: file.logLevel,
    limits: file.limits,
    http: file.http,
    metrics: file.metrics,
    tracing: {
      enabled: Boolean(
        file.tracing.endpoint ||
          env.OTEL_EXPORTER_OTLP_ENDPOINT ||
          env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
      ),
      ...(file.tracing.endpoint ? { endpoint: file.tracing.endpoint } : {}),
    },
    ...(file.tls
      ? {
          tls: {
            certFile: resolve(at("tls.certFile"), file.tls.certFile),
            keyFile: resolve(at("tls.keyFile"), file.tls.keyFile),
          },
        }
      : {}),
    face: file.face,
    templates: file.templates,
    matching: file.matching,
    search: file.search,
    bookkeeping: file.bookkeeping,
    liveness: file.liveness,
    clients,
    admins: readAdmins(file.admins, at("admins")),
    devMode,
  };
}

/**
 * The configuration as it takes effect (file, environment over it, defaults filled in), secrets
 * redacted: what `facevault config check` prints.
 * @throws FacevaultError `invalid_argument` as `loadConfig` does.
 */
export function effectiveConfig(options: LoadConfigOptions = {}): Json {
  loadConfig(options);
  return redact(readConfig(options).file) as Json;
}

function redact(value: unknown, key = ""): unknown {
  if ((secretSettings as readonly string[]).includes(key)) {
    return Array.isArray(value) ? value.map(() => "<redacted>") : "<redacted>";
  }
  if (Array.isArray(value)) return value.map((v) => redact(v));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, k)]));
  }
  return value;
}

function readConfig(options: LoadConfigOptions): ReadConfig {
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
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new FacevaultError("invalid_argument", `config: ${path} is not valid JSON`, {
        cause: err,
      });
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw invalid("(root)", "must be a JSON object");
    }
    raw = parsed as Json;
    base = dirname(path);
  }
  const fromEnv = applyEnvironment(raw, env);
  const result = configFileSchema.safeParse(raw);
  if (!result.success) throw configError(result.error, fromEnv);
  return { file: result.data, base, cwd, fromEnv, configPath, env };
}

/** The first problem of a failed parse, as "config: <setting> <problem>". */
function configError(error: z.ZodError, fromEnv: Map<string, string>): FacevaultError {
  const issue = error.issues[0] as z.core.$ZodIssue;
  const path = issue.path
    .map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join("");
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0] ?? "";
    return invalid(path ? `${path}.${key}` : key, "is not a setting (misspelt?)");
  }
  const field = path || "(root)";
  const variable = fromEnv.get(field);
  const source = variable ? ` (from ${variable})` : "";
  return invalid(`${field}${source}`, issue.message);
}

/** Environment names of the settings, and how to read each value. */
type EnvKind = "number" | "boolean" | "string" | "json";
const aliases: Record<string, string> = {
  PORT: "port",
  DATABASE_URL: "database",
  LOG_LEVEL: "logLevel",
};

function envName(path: readonly string[]): string {
  return `FACEVAULT_${path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()).join("__")}`;
}

/** Every setting's environment name, from the schema itself: the rule cannot drift from it. */
function environmentSettings(): Map<string, { path: string[]; kind: EnvKind }> {
  const settings = new Map<string, { path: string[]; kind: EnvKind }>();
  const walk = (schema: z.core.$ZodType, path: string[]) => {
    let inner = schema;
    // Unwrap defaults and optionals down to the type itself.
    while (["default", "prefault", "optional"].includes(inner._zod.def.type)) {
      inner = (inner._zod.def as unknown as { innerType: z.core.$ZodType }).innerType;
    }
    const type = inner._zod.def.type;
    if (type === "object" && path.length < 2) {
      const shape = (inner._zod.def as unknown as { shape: Record<string, z.core.$ZodType> }).shape;
      for (const [key, child] of Object.entries(shape)) walk(child, [...path, key]);
      if (path.length === 0) return;
    }
    const kind: EnvKind =
      type === "number"
        ? "number"
        : type === "boolean"
          ? "boolean"
          : type === "string" || type === "enum"
            ? "string"
            : "json";
    if (path.length > 0) settings.set(envName(path), { path, kind });
  };
  walk(configFileSchema, []);
  return settings;
}

/**
 * Lays the settings the environment gives over the file's, in place; returns their dotted paths.
 * @throws FacevaultError for a FACEVAULT_ variable that is no setting, or an unreadable value.
 */
function applyEnvironment(raw: Json, env: Record<string, string | undefined>): Map<string, string> {
  const settings = environmentSettings();
  const fromEnv = new Map<string, string>();
  const entries: [string, string, { path: string[]; kind: EnvKind }][] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || value === "") continue;
    if (name in aliases) {
      entries.push([name, value, settings.get(envName([aliases[name] as string])) as never]);
      continue;
    }
    if (
      !name.startsWith("FACEVAULT_") ||
      notSettings.has(name) ||
      name.startsWith("FACEVAULT_TEST_")
    ) {
      continue;
    }
    const setting = settings.get(name);
    if (!setting) {
      throw new FacevaultError(
        "invalid_argument",
        `config: environment variable ${name} is not a setting (the rule: FACEVAULT_ and the setting's path in upper snake case, __ between levels)`,
        { field: name },
      );
    }
    entries.push([name, value, setting]);
  }
  // The rule's own names win over the platform aliases (PORT, DATABASE_URL, LOG_LEVEL).
  entries.sort(
    ([a], [b]) => Number(a.startsWith("FACEVAULT_")) - Number(b.startsWith("FACEVAULT_")),
  );
  for (const [name, value, { path, kind }] of entries) {
    let parsed: unknown = value;
    if (kind === "number") parsed = value.trim() === "" ? value : Number(value);
    else if (kind === "boolean")
      parsed = value === "true" ? true : value === "false" ? false : value;
    else if (kind === "json") {
      try {
        parsed = JSON.parse(value);
      } catch {
        throw invalid(`${path.join(".")} (from ${name})`, "must be JSON");
      }
    }
    let target = raw;
    for (const key of path.slice(0, -1)) {
      const next = target[key];
      target[key] = next !== null && typeof next === "object" && !Array.isArray(next) ? next : {};
      target = target[key] as Json;
    }
    target[path[path.length - 1] as string] = parsed;
    fromEnv.set(path.join("."), name);
  }
  return fromEnv;
}

/**
 * FACEVAULT_ variables that are not settings: the config file's path, and what the commands
 * that call a server read (so one shell can hold both and still start `serve`).
 */
const notSettings = new Set([
  "FACEVAULT_CONFIG",
  "FACEVAULT_URL",
  "FACEVAULT_CLIENT",
  "FACEVAULT_KEY",
  "FACEVAULT_KEY_FILE",
]);

function isUrl(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(value);
}

function decodeKey(value: string, field: string, minBytes: number, maxBytes = 1024): Uint8Array {
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

function readMasterKeys(file: ConfigFile, base: string): Uint8Array[] {
  if ((file.masterKey === undefined) === (file.masterKeyFile === undefined)) {
    throw invalid("masterKey", "or masterKeyFile must be given (exactly one of them)");
  }
  const current =
    file.masterKeyFile !== undefined
      ? decodeKey(
          readKeyFile(resolve(base, file.masterKeyFile), "masterKeyFile"),
          "masterKeyFile",
          32,
          32,
        )
      : decodeKey(file.masterKey as string, "masterKey", 32, 32);
  return [
    current,
    ...file.previousMasterKeys.map((k, i) => decodeKey(k, `previousMasterKeys[${i}]`, 32, 32)),
  ];
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

function readClients(entries: z.output<typeof clientSchema>[]): ClientConfig[] {
  const seen = new Set<string>();
  return entries.map((entry, i) => {
    const field = `clients[${i}]`;
    if (seen.has(entry.clientId)) {
      throw invalid(`${field}.clientId`, `'${entry.clientId}' is listed twice`);
    }
    seen.add(entry.clientId);
    return {
      ...entry,
      // 32 bytes at least: shorter HMAC keys are guessable; vendor keys are 64.
      keys: entry.keys.map((k, j) => decodeKey(k, `${field}.keys[${j}]`, 32)),
    };
  });
}

function readAdmins(entries: z.output<typeof adminSchema>[], base: string): AdminConfig[] {
  const seen = new Set<string>();
  return entries.map((entry, i) => {
    const field = `admins[${i}]`;
    if (seen.has(entry.id)) throw invalid(`${field}.id`, `'${entry.id}' is listed twice`);
    seen.add(entry.id);
    if ((entry.key === undefined) === (entry.keyFile === undefined)) {
      throw invalid(`${field}.key`, "or keyFile must be given (exactly one of them)");
    }
    const key =
      entry.key ?? readKeyFile(resolve(base, entry.keyFile as string), `${field}.keyFile`);
    if (key.length < 32) throw invalid(`${field}.keyFile`, "must hold at least 32 characters");
    return { id: entry.id, key, scopes: entry.scopes };
  });
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
  const parsed = clientSchema.safeParse(clientJson);
  if (!parsed.success)
    throw invalid(devFiles.client, parsed.error.issues[0]?.message ?? "is not a client");
  const [client] = readClients([parsed.data]);
  if (!client) throw invalid(devFiles.client, "holds no client");
  return { client, masterKey };
}

function writeSecretOnce(path: string, make: () => string): void {
  if (existsSync(path)) return;
  writeFileSync(path, `${make()}\n`, { mode: 0o600, flag: "wx" });
  chmodSync(path, 0o600);
}

/** Each partition some configured client uses, once, in the configuration's order. */
export function servedPartitions(
  clients: FacevaultConfig["clients"],
): { storage: string; partition: number }[] {
  const seen = new Map<string, { storage: string; partition: number }>();
  for (const c of clients) seen.set(`${c.storage}/${c.partition}`, c);
  return [...seen.values()].map((c) => ({ storage: c.storage, partition: c.partition }));
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
