/**
 * Search indexes are loaded when the server starts listening (setting `search.preload`), not at
 * a partition's first Search: seen through /metrics, with a real server on a real SQLite file.
 * A Search that waits for its partition's load keeps its deadline (real PostgreSQL, its
 * templates table locked).
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import { createGrpcJsClient } from "@facevault/client";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { photo } from "./support/photos.js";
import { seedTemplate } from "./support/seed.js";
import { startTestServer, type TestServer, testPostgresUrl } from "./support/test-server.js";

let server: TestServer;

// Encoder 2 is the one seedTemplate's vectors are made for (128-D), so the index holds them.
const config = { face: { workers: 1, encoderVersion: 2 } };

beforeAll(async () => {
  server = await startTestServer({ config: { ...config, search: { preload: false } } });
  for (let classId = 1n; classId <= 3n; classId++) {
    await seedTemplate(server.app, server.clients.alice, classId);
  }
  await seedTemplate(server.app, server.clients.bob, 7n);
});
afterAll(async () => server?.close());

/** Samples of one metric whose labels include `labels`, summed; 0 when there is none. */
async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${server.baseUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return sum;
}

describe("search.preload", () => {
  it("false: no partition is loaded before a Search asks for it", async () => {
    await sleep(200);
    expect(await metric("facevault_search_index_load_seconds_count", {})).toBe(0);
    expect(await metric("facevault_search_templates", { partition: "1" })).toBe(0);
  });

  it("true (the default): every configured partition is loaded at start, without a call", async () => {
    // The search section's defaults: the earlier start's `preload: false` replaced.
    server = await server.restart({ search: {} });
    await expect
      .poll(() => metric("facevault_search_index_load_seconds_count", { source: "templates" }), {
        timeout: 10_000,
      })
      .toBe(2);
    expect(await metric("facevault_search_templates", { storage: "bws", partition: "1" })).toBe(3);
    expect(await metric("facevault_search_templates", { storage: "bws", partition: "2" })).toBe(1);
  });
});

describe("a Search waiting for its partition's load", () => {
  it("ends at its deadline while the load waits for the database, and the load goes on", async () => {
    const schema = `fv_preload_${randomBytes(4).toString("hex")}`;
    const pgServer = await startTestServer({
      database: testPostgresUrl,
      databaseSchema: schema,
      // The server's own deadline, not the client's: a client deadline would end the call on the
      // client's side whatever the server does.
      config: {
        face: { workers: 1 },
        search: { preload: false },
        limits: { requestTimeoutMs: 3000 },
      },
    });
    const locker = new pg.Client({ connectionString: testPostgresUrl });
    await locker.connect();
    const grpc = createGrpcJsClient({
      address: pgServer.address,
      token: await pgServer.token(pgServer.clients.alice),
    });
    try {
      await locker.query("BEGIN");
      await locker.query(
        `LOCK TABLE ${pg.escapeIdentifier(schema)}.templates IN ACCESS EXCLUSIVE MODE`,
      );
      const request = { images: [{ image: photo("people/person-01/01.jpg") }] };
      const started = Date.now();
      const err = await grpc
        .search(request, { timeoutMs: 5 * 60_000 })
        .catch((e: unknown) => ConnectError.from(e));
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.DeadlineExceeded);
      expect((err as ConnectError).rawMessage).toMatch(/server's deadline/);
      // Waiting for the load would last until the lock goes or PostgreSQL's 30 s statement
      // timeout ends the read.
      expect(Date.now() - started).toBeLessThan(15_000);
      await locker.query("ROLLBACK");
      const found = await grpc.search(request);
      expect(found.result).toHaveLength(1);
      expect(found.result[0]?.matches).toEqual([]);
    } finally {
      grpc.close();
      await locker.query("ROLLBACK").catch(() => undefined);
      await locker.end();
      await pgServer.close();
      const admin = new pg.Client({ connectionString: testPostgresUrl });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
      await admin.end();
    }
  });
});
