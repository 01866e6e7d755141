import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { effectiveConfig, loadConfig } from "./config.js";
import { isFacevaultError } from "./errors.js";
import { DEFAULT_ENCODER_VERSION, encoderVersions } from "./face/encoders.js";

const key = () => randomBytes(64).toString("base64");
const master = () => randomBytes(32).toString("base64");

function withConfig(config: unknown): { configPath: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "facevault-config-"));
  const configPath = join(dir, "config.json");
  writeFileSync(configPath, typeof config === "string" ? config : JSON.stringify(config));
  return { configPath, dir };
}

function failure(config: unknown, env: Record<string, string> = {}): string {
  try {
    loadConfig({ ...withConfig(config), env });
  } catch (err) {
    expect(isFacevaultError(err, "invalid_argument")).toBe(true);
    return (err as Error).message;
  }
  throw new Error("expected the config to be refused");
}

const valid = () => ({ masterKey: master(), clients: [{ clientId: "c1", keys: [key()] }] });

describe("loadConfig", () => {
  it("fills defaults and resolves paths against the config file", () => {
    const { configPath, dir } = withConfig(valid());
    const config = loadConfig({ configPath, env: {} });
    expect(config).toMatchObject({
      port: 8080,
      host: "0.0.0.0",
      dataDir: join(dir, "data"),
      database: join(dir, "data", "facevault.db"),
      bwsVersion: "3.0.0",
      devMode: false,
      limits: {
        maxRequestBytes: 50 * 1024 * 1024,
        requestTimeoutMs: 60_000,
        maxTokenLifetimeSeconds: 3600,
      },
      face: { encoderVersion: DEFAULT_ENCODER_VERSION, maxQueue: 64 },
      matching: { minScore: 0.5 },
      templates: { maxFeatureVectors: 32 },
      bookkeeping: { retentionDays: 0, pruneIntervalMinutes: 60 },
    });
    expect(config.clients[0]).toMatchObject({
      clientId: "c1",
      storage: "bws",
      partition: 0,
      storeThumbnails: true,
      encryptCompactTemplate: false,
    });
  });

  it("lets PORT, FACEVAULT_DATA_DIR and DATABASE_URL override the file", () => {
    const { configPath } = withConfig({ ...valid(), port: 1 });
    const config = loadConfig({
      configPath,
      cwd: "/srv",
      env: { PORT: "9999", FACEVAULT_DATA_DIR: "fv", DATABASE_URL: "postgres://x@h/db" },
    });
    expect(config).toMatchObject({ port: 9999, dataDir: "/srv/fv", database: "postgres://x@h/db" });
  });

  it("reads admin keys inline or from a file, and redacts them", () => {
    const inline = "i".repeat(40);
    const { configPath, dir } = withConfig({
      ...valid(),
      admins: [
        { id: "root", keyFile: "admin.key", scopes: ["*"] },
        { id: "ops", key: inline, scopes: ["bws/*", "bws/3"] },
      ],
    });
    writeFileSync(join(dir, "admin.key"), `${"f".repeat(36)}\n`);
    expect(loadConfig({ configPath, env: {} }).admins).toEqual([
      { id: "root", key: "f".repeat(36), scopes: ["*"] },
      { id: "ops", key: inline, scopes: ["bws/*", "bws/3"] },
    ]);
    expect(JSON.stringify(effectiveConfig({ configPath, env: {} }))).not.toContain(inline);
  });

  it("reads the master key from a file", () => {
    const { configPath, dir } = withConfig({
      clients: valid().clients,
      masterKeyFile: "master.key",
    });
    const secret = randomBytes(32);
    writeFileSync(join(dir, "master.key"), secret.toString("base64"));
    expect(
      Buffer.from(loadConfig({ configPath, env: {} }).masterKeys[0] as Uint8Array).equals(secret),
    ).toBe(true);
  });

  it("names the field of every invalid setting", () => {
    expect(failure("{ not json")).toMatch(/is not valid JSON/);
    expect(failure({ ...valid(), port: 70000 })).toBe(
      "config: port must be an integer from 0 to 65535",
    );
    expect(failure({ clients: valid().clients })).toMatch(
      /config: masterKey or masterKeyFile must be given/,
    );
    expect(failure({ ...valid(), masterKey: "c2hvcnQ=" })).toBe(
      "config: masterKey must decode to 32 bytes (got 5)",
    );
    expect(failure({ ...valid(), clients: [] })).toBe("config: clients must be a non-empty array");
    expect(failure({ ...valid(), clients: [{ clientId: "a", keys: ["!!"] }] })).toBe(
      "config: clients[0].keys[0] must be a base64 string",
    );
    expect(
      failure({
        ...valid(),
        clients: [
          { clientId: "a", keys: [key()] },
          { clientId: "a", keys: [key()] },
        ],
      }),
    ).toBe("config: clients[1].clientId 'a' is listed twice");
    expect(
      failure({ ...valid(), clients: [{ clientId: "a", keys: [key()], partition: -1 }] }),
    ).toMatch(/^config: clients\[0\]\.partition must be an integer/);
    expect(failure({ ...valid(), limits: { maxRequestBytes: "big" } })).toMatch(
      /^config: limits\.maxRequestBytes/,
    );
    expect(failure({ ...valid(), limits: { maxTokenLifetimeSeconds: 10 } })).toBe(
      "config: limits.maxTokenLifetimeSeconds must be an integer from 60 to 86400",
    );
    expect(
      failure({ ...valid(), face: { encoderVersion: Math.max(...encoderVersions()) + 1 } }),
    ).toMatch(/^config: face\.encoderVersion/);
    expect(failure({ ...valid(), matching: { minScore: 0 } })).toBe(
      "config: matching.minScore must be a number in ]0,1]",
    );
    expect(failure({ ...valid(), bookkeeping: { retentionDays: -1 } })).toBe(
      "config: bookkeeping.retentionDays must be an integer from 0 to 36500",
    );
    expect(failure({ ...valid(), admins: [{ id: "a", key: "short", scopes: ["*"] }] })).toBe(
      "config: admins[0].key must be a string of at least 32 characters",
    );
    expect(
      failure({ ...valid(), admins: [{ id: "a", key: "k".repeat(32), scopes: ["bws/one"] }] }),
    ).toBe("config: admins[0].scopes[0] must be *, <storage>/* or <storage>/<partition>");
    expect(failure({ ...valid(), admins: [{ id: "a", scopes: ["*"] }] })).toBe(
      "config: admins[0].key or keyFile must be given (exactly one of them)",
    );
    expect(failure(valid(), { PORT: "eighty" })).toBe(
      "config: port (from PORT) must be an integer from 0 to 65535",
    );
  });

  it("refuses unknown settings, typos included, with their path", () => {
    expect(failure({ ...valid(), face: { maxQeue: 5 } })).toBe(
      "config: face.maxQeue is not a setting (misspelt?)",
    );
    expect(failure({ ...valid(), prot: 80 })).toBe("config: prot is not a setting (misspelt?)");
    expect(failure({ ...valid(), clients: [{ clientId: "a", keys: [key()], partiton: 1 }] })).toBe(
      "config: clients[0].partiton is not a setting (misspelt?)",
    );
  });

  it("takes every setting from the environment under one naming rule", () => {
    const { configPath } = withConfig(valid());
    const config = loadConfig({
      configPath,
      env: {
        FACEVAULT_FACE__MAX_QUEUE: "40",
        FACEVAULT_LIMITS__MAX_REQUEST_BYTES: "2048",
        FACEVAULT_METRICS__ENABLED: "false",
        FACEVAULT_HTTP__HTTP2_IDLE_TIMEOUT_MS: "1500",
        FACEVAULT_BWS_VERSION: "3.1.0",
        FACEVAULT_BOOKKEEPING__RETENTION_DAYS: "90",
        FACEVAULT_LOG_LEVEL: "warn",
        LOG_LEVEL: "debug", // the rule's own name wins over the alias
      },
    });
    expect(config).toMatchObject({
      face: { maxQueue: 40 },
      limits: { maxRequestBytes: 2048 },
      metrics: { enabled: false },
      http: { http2IdleTimeoutMs: 1500 },
      bwsVersion: "3.1.0",
      bookkeeping: { retentionDays: 90 },
      logLevel: "warn",
    });
  });

  it("runs without a file from the environment alone, clients as JSON", () => {
    const dir = mkdtempSync(join(tmpdir(), "facevault-env-"));
    const config = loadConfig({
      cwd: dir,
      env: {
        FACEVAULT_MASTER_KEY: master(),
        FACEVAULT_CLIENTS: JSON.stringify([{ clientId: "from-env", keys: [key()], partition: 3 }]),
        FACEVAULT_DATA_DIR: "d",
      },
    });
    expect(config.devMode).toBe(false);
    expect(config.dataDir).toBe(join(dir, "d"));
    expect(config.clients[0]).toMatchObject({ clientId: "from-env", partition: 3 });
    expect(failure(valid(), { FACEVAULT_FACE__MAX_QEUE: "5" })).toMatch(
      /^config: environment variable FACEVAULT_FACE__MAX_QEUE is not a setting/,
    );
    expect(failure(valid(), { FACEVAULT_CLIENTS: "[{" })).toBe(
      "config: clients (from FACEVAULT_CLIENTS) must be JSON",
    );
    expect(failure(valid(), { FACEVAULT_FACE__WORKERS: "two" })).toBe(
      "config: face.workers (from FACEVAULT_FACE__WORKERS) must be an integer from 1 to 64",
    );
    // The command-line client's variables may sit in the same shell as a server's.
    const cliEnv = {
      FACEVAULT_URL: "http://127.0.0.1:8080",
      FACEVAULT_CLIENT: "hr",
      FACEVAULT_KEY: "k",
      FACEVAULT_KEY_FILE: "hr.key",
    };
    expect(loadConfig({ ...withConfig(valid()), env: cliEnv }).clients[0]?.clientId).toBe("c1");
  });

  it("shows the effective configuration with secrets redacted", () => {
    const { configPath } = withConfig(valid());
    const shown = effectiveConfig({ configPath, env: { FACEVAULT_FACE__MAX_QUEUE: "40" } });
    expect(shown).toMatchObject({
      port: 8080,
      masterKey: "<redacted>",
      face: { maxQueue: 40, encoderVersion: DEFAULT_ENCODER_VERSION },
      clients: [{ clientId: "c1", keys: ["<redacted>"] }],
    });
    expect(JSON.stringify(shown)).not.toContain((valid().masterKey as string).slice(0, 8));
  });

  it("creates the development setup once, with private files, and reuses it", () => {
    const dir = mkdtempSync(join(tmpdir(), "facevault-dev-"));
    const first = loadConfig({ env: { FACEVAULT_DATA_DIR: join(dir, "data") }, cwd: dir });
    expect(first.devMode).toBe(true);
    expect(first.host).toBe("127.0.0.1");
    expect(first.clients[0]?.clientId).toMatch(/^dev-[0-9a-f]{8}$/);
    const again = loadConfig({ env: { FACEVAULT_DATA_DIR: join(dir, "data") }, cwd: dir });
    expect(again.clients[0]?.clientId).toBe(first.clients[0]?.clientId);
    expect(Buffer.from(again.masterKeys[0] as Uint8Array)).toEqual(
      Buffer.from(first.masterKeys[0] as Uint8Array),
    );
    for (const f of ["dev-client.json", "master.key"]) {
      expect(statSync(join(dir, "data", f)).mode & 0o777).toBe(0o600);
    }
    expect(
      JSON.parse(readFileSync(join(dir, "data", "dev-client.json"), "utf8")).keys,
    ).toHaveLength(1);
  });
});
