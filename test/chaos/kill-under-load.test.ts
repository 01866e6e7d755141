/**
 * kill -9 under mixed load: a facevault process takes enrollments, status and tag calls and
 * searches from several callers at once and is SIGKILLed at a random moment. The next process
 * on the same database must find every acknowledged enrollment in place (a template may hold
 * more, from a write that committed before its answer was lost, never fewer), and templates
 * that still open and verify. Once on SQLite, once on PostgreSQL.
 */

import { randomBytes, randomInt } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGrpcJsClient, createTokenSource, type GrpcJsClient } from "@facevault/client";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { FaceRecognition } from "../../gen/bioid/services/v1/face_recognition_pb.js";
import {
  type ChildClientConfig,
  type ChildServer,
  startChildServer,
  stopAllChildServers,
  withChildOutput,
} from "../support/child-server.js";
import { testPostgresUrl } from "../support/test-server.js";

const dir = mkdtempSync(join(tmpdir(), "facevault-kill-"));
const schema = `fv_kill_${randomBytes(5).toString("hex")}`;
const masterKey = randomBytes(32).toString("base64");
const client: ChildClientConfig = {
  clientId: "load",
  key: randomBytes(64).toString("base64"),
  storage: "bws",
  partition: 3,
};
const facesDir = new URL("../fixtures/faces/people/", import.meta.url);
const photos = ["person-01/01.jpg", "person-01/02.jpg", "person-01/03.jpg", "person-01/04.jpg"].map(
  (f) => new Uint8Array(readFileSync(new URL(f, facesDir))),
);
const probe = new Uint8Array(readFileSync(new URL("person-01/05.jpg", facesDir)));
const classes = [1n, 2n, 3n, 4n, 5n, 6n];

afterEach(() => stopAllChildServers());
afterAll(async () => {
  const admin = new pg.Client({ connectionString: testPostgresUrl });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
});

function start(name: string, database: string): Promise<ChildServer> {
  return startChildServer({
    name,
    dir,
    database,
    ...(database.startsWith("postgres") ? { databaseSchema: schema } : {}),
    masterKey,
    clients: [client],
  });
}

type Api = GrpcJsClient<typeof FaceRecognition>;
const api = (server: ChildServer): Api =>
  createGrpcJsClient({
    address: server.address,
    token: createTokenSource({ clientId: client.clientId, key: client.key }),
  });

/** Mixed load from four callers until `stop`; counts the enrollments acknowledged per class. */
async function load(client: Api, stop: Promise<void>) {
  const acked = new Map<bigint, number>();
  let stopped = false;
  void stop.then(() => {
    stopped = true;
  });
  const caller = async (n: number) => {
    for (let i = 0; !stopped; i++) {
      const classId = classes[(n + i) % classes.length] as bigint;
      try {
        switch (i % 4) {
          case 0:
          case 1: {
            const res = await client.enroll({
              classId,
              images: [{ image: photos[randomInt(photos.length)] as Uint8Array }],
            });
            acked.set(classId, (acked.get(classId) ?? 0) + res.enrolledImages);
            break;
          }
          case 2:
            await client.setTemplateTags({ classId, tags: [`round-${i}`] });
            break;
          default:
            await client.search({ images: [{ image: probe }], topMatches: true });
        }
      } catch {
        // NOT_FOUND before a class exists, and every call cut by the kill.
      }
    }
  };
  await Promise.all([0, 1, 2, 3].map(caller));
  return acked;
}

async function killUnderLoad(name: string, database: string) {
  const server = await start(`${name}-1`, database);
  const first = api(server);
  let kill!: () => void;
  const killed = new Promise<void>((resolve) => {
    kill = resolve;
  });
  const loading = load(first, killed);
  // Killed at a random moment after some writes, while calls are in flight.
  await new Promise((resolve) => setTimeout(resolve, 2500 + randomInt(2000)));
  server.killNow();
  kill();
  const acked = await loading;
  first.close();
  expect([...acked.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);

  const next = await start(`${name}-2`, database);
  const after = api(next);
  try {
    for (const [classId, count] of acked) {
      const status = await after.getTemplateStatus({ classId, downloadThumbnails: true });
      expect(status.available, `class ${classId}`).toBe(true);
      expect(status.featureVectors, `class ${classId}`).toBeGreaterThanOrEqual(count);
      expect(status.thumbnails.length).toBe(status.thumbnailsStored);
      const verified = await after.verify({ classId, image: { image: probe } });
      expect(verified.verified, `class ${classId}`).toBe(true);
    }
  } finally {
    after.close();
  }
}

describe("kill -9 under mixed load", () => {
  it("SQLite: every acknowledged enrollment is there after the restart", () =>
    withChildOutput(() => killUnderLoad("sqlite", join(dir, "kill.db"))));

  it("PostgreSQL: every acknowledged enrollment is there after the restart", () =>
    withChildOutput(() => killUnderLoad("pg", testPostgresUrl)));
});
