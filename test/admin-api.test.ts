/**
 * The admin API (facevault.admin.v1.Admin) on a real server, SQLite and PostgreSQL: admin keys of
 * its own, scopes (PERMISSION_DENIED for another partition), paging with tokens and totals,
 * deletes by tag, the call log with filters, over grpc-js, Connect and REST.
 */
import { randomBytes } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { createConnectClient, createGrpcJsClient } from "@facevault/client";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Admin } from "../gen/facevault/admin/v1/admin_pb.js";
import { codeOf } from "./support/rpc-errors.js";
import { samplePng, seedTemplate } from "./support/seed.js";
import { startTestServer, type TestServer, testPostgresUrl } from "./support/test-server.js";

const rootKey = randomBytes(32).toString("base64url");
const aliceKey = randomBytes(32).toString("base64url");
const admins = [
  { id: "root", key: rootKey, scopes: ["*"] },
  // Alice's partition only (the test server's clients: alice bws/1, bob bws/2).
  { id: "alice-ops", key: aliceKey, scopes: ["bws/1"] },
];

const schema = `facevault_admin_${process.pid}_${Date.now().toString(36)}`;
describe.each([
  { store: "sqlite", options: {} },
  { store: "postgres", options: { database: testPostgresUrl, databaseSchema: schema } },
])("admin API on $store", ({ store, options }) => {
  let server: TestServer;
  const rest = async (method: string, path: string, key: string | null, body?: unknown) => {
    const res = await fetch(server.baseUrl + path, {
      method,
      headers: {
        ...(key === null ? {} : { authorization: `Bearer ${key}` }),
        "content-type": "application/json",
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined, text };
  };
  const grpc = (key: string) =>
    createGrpcJsClient({ address: server.address, service: Admin, token: key });
  const connect = (key: string) =>
    createConnectClient({ baseUrl: server.baseUrl, service: Admin, token: key });

  beforeAll(async () => {
    server = await startTestServer({ ...options, config: { admins } });
    const deps = { store: server.app.store, vault: server.app.vault };
    const { alice, bob } = server.clients;
    for (const classId of [1n, 2n, 3n, 4n, 5n]) {
      await seedTemplate(deps, alice, classId, {
        tags: [classId % 2n === 0n ? "even" : "odd", "staff"],
        ...(classId === 2n ? { thumbnail: await samplePng(2) } : {}),
      });
    }
    await seedTemplate(deps, bob, 9n, { tags: ["odd"] });
    // Calls of both clients for the log, one with a reference number.
    for (const client of [alice, bob]) {
      const res = await fetch(`${server.baseUrl}/api/face/v1/template/status/1`, {
        headers: {
          authorization: `Bearer ${await server.token(client)}`,
          "reference-number": `ref-${client.clientId}`,
        },
      });
      expect(res.status).toBe(200);
    }
    await server.app.server.drainBookkeeping();
  });
  afterAll(async () => {
    await server?.close();
    if (store === "postgres") {
      const client = new pg.Client({ connectionString: testPostgresUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
      await client.end();
    }
  });

  it("lists the partitions a key may see, with their counts (grpc-js)", async () => {
    const root = grpc(rootKey);
    const scoped = grpc(aliceKey);
    try {
      const all = (await root.listPartitions({})).partitions;
      expect(all.map((p) => [p.storage, p.partition, Number(p.templates)])).toEqual([
        ["bws", 1, 5],
        ["bws", 2, 1],
      ]);
      expect(Number(all[0]?.featureVectors)).toBe(10);
      expect(Number(all[0]?.thumbnails)).toBe(1);
      const mine = (await scoped.listPartitions({})).partitions;
      expect(mine.map((p) => p.partition)).toEqual([1]);
      expect(await codeOf(scoped.listTemplates({ storage: "bws", partition: 2 }))).toBe(
        Code.PermissionDenied,
      );
    } finally {
      root.close();
      scoped.close();
    }
  });

  it("pages through templates with tokens and totals, filtered by tag (Connect)", async () => {
    const client = connect(aliceKey);
    const seen: bigint[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await client.listTemplates({
        storage: "bws",
        partition: 1,
        pageSize: 2,
        pageToken,
      });
      expect(page.totalCount).toBe(5n);
      seen.push(...page.templates.map((t) => t.classId));
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken !== "");
    expect(seen).toEqual([1n, 2n, 3n, 4n, 5n]);
    expect(pages).toBe(3);
    const odd = await client.listTemplates({ storage: "bws", partition: 1, tag: "odd" });
    expect(odd.totalCount).toBe(3n);
    expect(odd.templates.map((t) => [t.classId, t.tags])).toEqual([
      [1n, ["odd", "staff"]],
      [3n, ["odd", "staff"]],
      [5n, ["odd", "staff"]],
    ]);
    expect(
      await codeOf(client.listTemplates({ storage: "bws", partition: 1, pageToken: "x" })),
    ).toBe(Code.InvalidArgument);
  });

  it("serves the same over REST: details without biometric data, thumbnails on request", async () => {
    const page = await rest(
      "GET",
      "/api/admin/v1/storages/bws/partitions/1/templates?tag=even&pageSize=1",
      aliceKey,
    );
    expect(page.status).toBe(200);
    expect(page.json).toMatchObject({ totalCount: 2, nextPageToken: "2" });
    expect(page.json.templates[0]).toMatchObject({
      classId: 2,
      tags: ["even", "staff"],
      featureVectors: 2,
    });
    const details = await rest(
      "GET",
      "/api/admin/v1/storages/bws/partitions/1/templates/2",
      aliceKey,
    );
    expect(details.json.template.thumbnailsStored).toBe(1);
    expect(details.json.thumbnails).toEqual([]);
    const withThumbs = await rest(
      "GET",
      "/api/admin/v1/storages/bws/partitions/1/templates/2?includeThumbnails",
      aliceKey,
    );
    const png = Buffer.from(withThumbs.json.thumbnails[0].image, "base64");
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    // No field of any answer carries vectors or template blobs.
    expect(withThumbs.text).not.toMatch(/vector"|compact|enhanced/i);
    const other = await rest("GET", "/api/admin/v1/storages/bws/partitions/2/templates", aliceKey);
    expect(other.status).toBe(403);
    expect(other.json.code).toBe(Code.PermissionDenied);
  });

  it("takes admin keys only: no key, a wrong key or a client's JWT are refused, and vice versa", async () => {
    expect((await rest("GET", "/api/admin/v1/partitions", null)).status).toBe(401);
    expect((await rest("GET", "/api/admin/v1/partitions", "x".repeat(43))).status).toBe(401);
    const jwt = await server.token(server.clients.alice);
    expect((await rest("GET", "/api/admin/v1/partitions", jwt)).status).toBe(401);
    const bws = await rest("GET", "/api/face/v1/template/status/1", rootKey);
    expect(bws.status).toBe(401);
    const client = grpc("wrong-key-wrong-key-wrong-key-wrong-key");
    try {
      expect(await codeOf(client.listPartitions({}))).toBe(Code.Unauthenticated);
    } finally {
      client.close();
    }
  });

  it("queries the call log within the key's partitions, by reference number and method", async () => {
    const scoped = connect(aliceKey);
    const root = connect(rootKey);
    const mine = await scoped.listJobs({ method: "GetTemplateStatus" });
    expect(mine.jobs.map((j) => j.clientId)).toEqual(["alice"]);
    expect(mine.jobs[0]?.referenceNumber).toBe("ref-alice");
    const byRef = await root.listJobs({ referenceNumber: "ref-bob" });
    expect(byRef.jobs.map((j) => [j.clientId, j.method, j.outcome])).toEqual([
      ["bob", "GetTemplateStatus", 0],
    ]);
    const ok = await root.listJobs({ outcome: 0, method: "GetTemplateStatus", pageSize: 1 });
    expect(ok.jobs).toHaveLength(1);
    expect(ok.nextPageToken).not.toBe("");
    const later = await root.listJobs({
      receivedAfter: { seconds: BigInt(Math.floor(Date.now() / 1000) + 3600) },
    });
    expect(later.jobs).toEqual([]);
    expect(await codeOf(scoped.listJobs({ clientId: "bob" }))).toBe(Code.PermissionDenied);
    expect(await codeOf(scoped.pruneJobs({ olderThan: { seconds: 0n } }))).toBe(
      Code.PermissionDenied,
    );
    // Admin calls are in the log too, under admin:<id>.
    await server.app.server.drainBookkeeping();
    const audit = await root.listJobs({ method: "ListJobs" });
    expect(audit.jobs.some((j) => j.clientId === "admin:alice-ops")).toBe(true);
    const rested = await rest(
      "GET",
      "/api/admin/v1/jobs?referenceNumber=ref-alice&outcome=0",
      aliceKey,
    );
    expect(rested.json.jobs.map((j: { clientId: string }) => j.clientId)).toEqual(["alice"]);
  });

  it("deletes by tag within a partition only, and prunes the log", async () => {
    const scoped = connect(aliceKey);
    const root = connect(rootKey);
    expect(
      await codeOf(scoped.deleteTemplatesByTag({ storage: "bws", partition: 2, tag: "odd" })),
    ).toBe(Code.PermissionDenied);
    expect(
      await codeOf(scoped.deleteTemplatesByTag({ storage: "bws", partition: 1, tag: "" })),
    ).toBe(Code.InvalidArgument);
    const deleted = await rest(
      "DELETE",
      "/api/admin/v1/storages/bws/partitions/1/templates?tag=odd",
      aliceKey,
    );
    expect(deleted.json).toEqual({ deletedCount: 3 });
    const left = await scoped.listTemplates({ storage: "bws", partition: 1 });
    expect(left.templates.map((t) => t.classId)).toEqual([2n, 4n]);
    // Bob's "odd" template is untouched.
    expect(
      (await root.listTemplates({ storage: "bws", partition: 2, tag: "odd" })).totalCount,
    ).toBe(1n);

    await server.app.server.drainBookkeeping();
    const pruned = await rest("POST", "/api/admin/v1/jobs:prune", rootKey, {
      olderThan: new Date(Date.now() + 60_000).toISOString(),
    });
    expect(pruned.status).toBe(200);
    expect(pruned.json.deletedCount).toBeGreaterThan(3);
    expect((await root.listJobs({ method: "GetTemplateStatus" })).jobs).toEqual([]);
  });

  it.runIf(store === "sqlite")(
    "answers DATA_LOSS for metadata tampered in the database",
    async () => {
      const db = new Database(server.app.config.database);
      db.prepare(
        `UPDATE templates SET feature_count = 30 WHERE storage = 'bws' AND partition = 1 AND class_id = 4`,
      ).run();
      db.close();
      const listed = await rest(
        "GET",
        "/api/admin/v1/storages/bws/partitions/1/templates",
        aliceKey,
      );
      expect(listed.status).toBe(500);
      expect(listed.json.code).toBe(Code.DataLoss);
      const status = await fetch(`${server.baseUrl}/api/face/v1/template/status/4`, {
        headers: { authorization: `Bearer ${await server.token(server.clients.alice)}` },
      });
      expect(status.status).toBe(500);
      expect(((await status.json()) as { code: number }).code).toBe(Code.DataLoss);
    },
  );
});
