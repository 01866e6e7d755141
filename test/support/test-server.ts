import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type App, createApp } from "../../src/app.js";
import { mintToken } from "../../src/auth/token-minter.js";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";

export interface TestClient {
  clientId: string;
  /** base64, as in the configuration */
  key: string;
  storage: string;
  partition: number;
}

export interface TestServer {
  app: App;
  /** http://127.0.0.1:port */
  baseUrl: string;
  /** 127.0.0.1:port, for grpc-js */
  address: string;
  dir: string;
  /** Two clients in different partitions of one storage. */
  clients: { alice: TestClient; bob: TestClient };
  token(client: TestClient, minutes?: number): Promise<string>;
  /**
   * Stops this server and starts another on the same data dir, database and keys, with
   * `config` merged into the configuration (e.g. another encoder version).
   */
  restart(config?: Record<string, unknown>): Promise<TestServer>;
  close(): Promise<void>;
}

export interface TestServerOptions {
  /** Default: a SQLite file in a fresh temp dir. */
  database?: string;
  databaseSchema?: string;
  /** Merged into the JSON config file. */
  config?: Record<string, unknown>;
}

/** The PostgreSQL of this machine (CI starts it): trust auth, database `test`. */
export const testPostgresUrl =
  process.env.FACEVAULT_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** Starts a real facevault on port 0 from a real config file; close() drains and cleans up. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), "facevault-test-"));
  const client = (name: string, partition: number): TestClient => ({
    clientId: name,
    key: randomBytes(64).toString("base64"),
    storage: "bws",
    partition,
  });
  const clients = { alice: client("alice", 1), bob: client("bob", 2) };
  const config = {
    port: 0,
    host: "127.0.0.1",
    dataDir: dir,
    database: options.database ?? join(dir, "facevault.db"),
    ...(options.databaseSchema ? { databaseSchema: options.databaseSchema } : {}),
    masterKey: randomBytes(32).toString("base64"),
    bwsVersion: "3.0.0-test",
    logLevel: "silent",
    // One engine worker per test server: test files run two at a time on two cores. Encoder 2:
    // these servers serve the transport tests, whose seeded templates (seed.ts) and expected
    // responses name it; recognition tests pass their own `face` settings (default encoder).
    face: { workers: 1, encoderVersion: 2 },
    clients: Object.values(clients).map((c) => ({
      clientId: c.clientId,
      keys: [c.key],
      storage: c.storage,
      partition: c.partition,
    })),
    ...options.config,
  };
  return launch(dir, clients, config);
}

async function launch(
  dir: string,
  clients: TestServer["clients"],
  config: Record<string, unknown>,
): Promise<TestServer> {
  const configPath = join(dir, "config.json");
  writeFileSync(configPath, JSON.stringify(config));
  const app = await createApp(loadConfig({ configPath, env: {} }), {
    logger: createLogger({ level: "silent" }),
  });
  const { port } = await app.start();
  return {
    app,
    baseUrl: `http://127.0.0.1:${port}`,
    address: `127.0.0.1:${port}`,
    dir,
    clients,
    token: (c, minutes = 5) => mintToken({ clientId: c.clientId, key: c.key, minutes }),
    async restart(patch = {}) {
      await app.stop();
      return launch(dir, clients, { ...config, ...patch });
    },
    async close() {
      await app.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
