/**
 * A PostgreSQL outage, made as an operator's bad night makes it: the database stops taking
 * connections and its backends are terminated. Calls get 503 UNAVAILABLE with Retry-After at
 * once (not after a connection timeout), Enroll refuses before spending face analysis,
 * readiness and gRPC health turn NOT_SERVING, bookkeeping of the calls made meanwhile is kept,
 * and everything comes back without a restart when the database does.
 */

import { randomBytes } from "node:crypto";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createGrpcJsClient } from "@facevault/client";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Health,
  HealthCheckResponse_ServingStatus as Serving,
} from "../../gen/grpc/health/v1/health_pb.js";
import { photo } from "../support/photos.js";
import { startTestServer, type TestServer, testPostgresUrl } from "../support/test-server.js";

const database = `facevault_outage_${randomBytes(4).toString("hex")}`;
const admin = new pg.Client({ connectionString: testPostgresUrl });
let server: TestServer;
let token: string;

beforeAll(async () => {
  await admin.connect();
  await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  const url = new URL(testPostgresUrl);
  url.pathname = `/${database}`;
  server = await startTestServer({ database: url.toString() });
  token = await server.token(server.clients.alice);
});

afterAll(async () => {
  await server?.close();
  await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(database)} ALLOW_CONNECTIONS true`);
  await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
  await admin.end();
});

async function status(classId: number) {
  const started = performance.now();
  const res = await fetch(`${server.baseUrl}/api/face/v1/template/status/${classId}`, {
    headers: { authorization: `Bearer ${token}`, "reference-number": `outage-${classId}` },
  });
  return {
    ms: performance.now() - started,
    status: res.status,
    retryAfter: res.headers.get("retry-after"),
    jobId: res.headers.get("jobid"),
    body: (await res.json()) as { code?: number; message?: string },
  };
}

async function readyz() {
  const res = await fetch(`${server.baseUrl}/readyz`);
  return { status: res.status, body: (await res.json()) as { reasons: string[] } };
}

describe("a PostgreSQL outage", () => {
  it("is answered with 503 at once, and everything recovers without a restart", async () => {
    expect((await status(1)).status).toBe(200);
    const health = createClient(Health, createGrpcTransport({ baseUrl: server.baseUrl }));
    expect((await health.check({ service: "readiness" })).status).toBe(Serving.SERVING);

    await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(database)} ALLOW_CONNECTIONS false`);
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [
      database,
    ]);

    const during = await status(2);
    expect(during.status).toBe(503);
    expect(during.body.code).toBe(Code.Unavailable);
    expect(during.body.message).toMatch(/database unreachable/);
    expect(during.retryAfter).toBe("1");
    // Refused at once, not after the pool's 10 s connection timeout.
    expect(during.ms).toBeLessThan(5000);
    console.log(`503 during the outage after ${during.ms.toFixed(0)} ms`);

    // Readiness and gRPC health follow.
    await expect.poll(async () => (await readyz()).status, { timeout: 5000 }).toBe(503);
    expect((await readyz()).body.reasons).toContain("the database cannot be reached");
    expect((await health.check({ service: "readiness" })).status).toBe(Serving.NOT_SERVING);
    expect((await health.check({ service: "liveness" })).status).toBe(Serving.SERVING);

    // Enroll fails before any face analysis is spent on it.
    let analysed = 0;
    const analyze = server.app.faces.analyze.bind(server.app.faces);
    server.app.faces.analyze = (...args) => {
      analysed++;
      return analyze(...args);
    };
    const grpc = createGrpcJsClient({ address: server.address, token });
    const enroll = await grpc
      .enroll({ classId: 3n, images: [{ image: photo("people/person-01/01.jpg") }] })
      .catch((err: unknown) => ConnectError.from(err));
    expect((enroll as ConnectError).code).toBe(Code.Unavailable);
    expect(analysed).toBe(0);
    grpc.close();

    await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(database)} ALLOW_CONNECTIONS true`);
    const recovering = performance.now();
    await expect.poll(async () => (await readyz()).status, { timeout: 10_000 }).toBe(200);
    console.log(`ready again ${(performance.now() - recovering).toFixed(0)} ms after the database`);
    expect((await status(4)).status).toBe(200);
    expect((await health.check({ service: "readiness" })).status).toBe(Serving.SERVING);

    // The calls made during the outage have their bookkeeping, written once it was possible.
    await server.app.server.drainBookkeeping();
    const jobs = await server.app.jobLog.listJobs({ clientId: "alice" });
    expect(jobs.find((j) => j.jobId === during.jobId)).toMatchObject({
      method: "GetTemplateStatus",
      outcome: Code.Unavailable,
      referenceNumber: "outage-2",
    });
    expect(jobs.filter((j) => j.method === "Enroll").map((j) => j.outcome)).toEqual([
      Code.Unavailable,
    ]);
  });
});
