/**
 * Two facevault replicas on one PostgreSQL, behind no proxy, and callers that write through one
 * and read through the other: Enroll, Verify, Search (with and without tags), SetTemplateTags
 * and DeleteTemplate interleaved from two callers at once. Every acknowledged write is seen by
 * the other replica's very next call, and at the end every template holds exactly the images
 * acknowledged since it was last created: none lost, none twice.
 */

import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { createGrpcJsClient, createTokenSource, type GrpcJsClient } from "@facevault/client";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FaceRecognition } from "../gen/bioid/services/v1/face_recognition_pb.js";
import {
  type ChildServer,
  startChildServer,
  stopAllChildServers,
  withChildOutput,
} from "./support/child-server.js";
import { testPostgresUrl } from "./support/test-server.js";

type Api = GrpcJsClient<typeof FaceRecognition>;
const dir = mkdtempSync(join(tmpdir(), "facevault-replicas-"));
const schema = `fv_replicas_${randomBytes(4).toString("hex")}`;
const masterKey = randomBytes(32).toString("base64");
const client = {
  clientId: "replicas",
  key: randomBytes(64).toString("base64"),
  storage: "bws",
  partition: 4,
};
const facesDir = new URL("./fixtures/faces/people/", import.meta.url);
const photo = (person: string, n: number) =>
  new Uint8Array(readFileSync(new URL(`${person}/0${n}.jpg`, facesDir)));

let replicas: ChildServer[] = [];
let apis: Api[] = [];

beforeAll(async () => {
  replicas = await Promise.all(
    ["R1", "R2"].map((name) =>
      startChildServer({
        name,
        dir,
        database: testPostgresUrl,
        databaseSchema: schema,
        masterKey,
        clients: [client],
      }),
    ),
  );
  apis = replicas.map((r) =>
    createGrpcJsClient({
      address: r.address,
      token: createTokenSource({ clientId: client.clientId, key: client.key }),
    }),
  );
});

afterAll(async () => {
  for (const api of apis) api.close();
  await stopAllChildServers();
  const admin = new pg.Client({ connectionString: testPostgresUrl });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
});

const code = (err: unknown) => ConnectError.from(err).code;

/**
 * One caller's script over its own classes: each step writes through one replica and checks
 * through the other at once. Returns the images acknowledged per class since its last creation.
 */
async function caller(first: number, people: { classId: bigint; person: string }[]) {
  const acked = new Map<bigint, number>();
  for (let step = 0; step < 9; step++) {
    const writer = apis[(first + step) % 2] as Api;
    const reader = apis[(first + step + 1) % 2] as Api;
    const { classId, person } = people[step % people.length] as { classId: bigint; person: string };
    const where = `step ${step}, class ${classId}`;
    const enrolled = await writer.enroll({
      classId,
      images: [{ image: photo(person, 1 + (step % 3)) }],
    });
    expect(enrolled.enrolledImages, where).toBe(1);
    acked.set(classId, (acked.get(classId) ?? 0) + 1);

    // The other replica sees the write at once, in Verify and in Search.
    const verified = await reader.verify({ classId, image: { image: photo(person, 4) } });
    expect(verified.verified, where).toBe(true);
    const found = await reader.search({ images: [{ image: photo(person, 4) }], topMatches: true });
    expect(found.result[0]?.matches[0]?.classId, where).toBe(classId);

    if (step % 3 === 1) {
      const tag = `s${first}-${step}`;
      await writer.setTemplateTags({ classId, tags: [tag] });
      const tagged = await reader.search({ images: [{ image: photo(person, 4) }], tags: [tag] });
      expect(
        tagged.result[0]?.matches.map((m) => m.classId),
        where,
      ).toEqual([classId]);
    }
    if (step % 4 === 3) {
      await writer.deleteTemplate({ classId });
      acked.delete(classId);
      expect(
        code(
          await reader
            .verify({ classId, image: { image: photo(person, 4) } })
            .catch((e: unknown) => e),
        ),
        where,
      ).toBe(Code.NotFound);
      const gone = await reader.search({ images: [{ image: photo(person, 4) }] });
      expect(gone.result[0]?.matches.map((m) => m.classId) ?? [], where).not.toContain(classId);
    }
  }
  return acked;
}

describe("two replicas on one PostgreSQL", () => {
  it("see each other's acknowledged writes at once and lose or double none", () =>
    withChildOutput(async () => {
      const results = await Promise.all([
        caller(0, [
          { classId: 11n, person: "person-01" },
          { classId: 12n, person: "person-02" },
        ]),
        caller(1, [
          { classId: 21n, person: "person-03" },
          { classId: 22n, person: "person-04" },
        ]),
      ]);
      for (const acked of results) {
        for (const [classId, count] of acked) {
          for (const api of apis) {
            const status = await api.getTemplateStatus({ classId });
            expect(status.featureVectors, `class ${classId}`).toBe(count);
          }
        }
      }
    }));
});
