/**
 * Enrollment end to end on a real server with real photos: every performed action, encoder
 * upgrades through stored thumbnails, tampered templates, encryption at rest, concurrent
 * writers, feature-vector bound and partition isolation.
 */

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { createConnectClient, createTokenSource } from "@facevault/client";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FaceEnrollmentResponse_EnrollmentAction as Action } from "../gen/bioid/services/v1/face_recognition_pb.js";
import { noFacePhoto, photo, photosByIdentity, withPasserBy } from "./support/photos.js";
import { codeOf } from "./support/rpc-errors.js";
import { startTestServer, type TestClient, type TestServer } from "./support/test-server.js";

let server: TestServer;

function clientFor(s: TestServer, who: TestClient = s.clients.alice) {
  return createConnectClient({
    baseUrl: s.baseUrl,
    protocol: "grpc",
    token: createTokenSource({ clientId: who.clientId, key: who.key }),
  });
}

const images = (...paths: string[]) => paths.map((p) => ({ image: photo(p) }));
const bcid = (who: TestClient, classId: bigint) => ({
  storage: who.storage,
  partition: who.partition,
  classId,
});

/** The stored template of one of alice's classes, with its enhanced part decrypted. */
async function opened(s: TestServer, classId: bigint) {
  const where = bcid(s.clients.alice, classId);
  const stored = await s.app.store.get(where);
  if (!stored) throw new Error(`class ${classId} has no template`);
  return { stored, enhanced: s.app.vault.openEnhanced(where, stored.enhanced) };
}

beforeAll(async () => {
  server = await startTestServer({
    config: { face: { workers: 1 }, templates: { maxFeatureVectors: 24 } },
  });
});
afterAll(async () => server?.close());

describe("performed actions", () => {
  it("creates, updates, reports NONE and fails without writing", async () => {
    const api = clientFor(server);
    const created = await api.enroll({ classId: 10n, images: images("people/person-04/01.jpg") });
    expect(created.performedAction).toBe(Action.NEW_TEMPLATE_CREATED);
    expect(created.enrolledImages).toBe(1);
    const updated = await api.enroll({
      classId: 10n,
      images: images("people/person-04/02.jpg", "people/person-04/03.jpg"),
    });
    expect(updated.performedAction).toBe(Action.TEMPLATE_UPDATED);
    expect(updated.enrolledImages).toBe(2);
    expect(updated.templateStatus?.featureVectors).toBe(3);

    const none = await api.enroll({ classId: 10n, images: [] });
    expect(none.performedAction).toBe(Action.NONE);
    expect(none.templateStatus).toMatchObject({ available: true, featureVectors: 3 });

    const before = await server.app.store.get(bcid(server.clients.alice, 10n));
    const failed = await api.enroll({
      classId: 10n,
      images: [{ image: await noFacePhoto() }, ...images("multi/couple.jpg")],
    });
    expect(failed.performedAction).toBe(Action.ENROLLMENT_FAILED);
    expect(failed.errors.map((e) => e.errorCode)).toEqual(["NoSuitableFaceImage"]);
    expect(failed.imageProperties[0]?.qualityAssessments).toContainEqual(
      expect.objectContaining({ check: "FaceFound", score: 0 }),
    );
    expect(failed.imageProperties[1]?.qualityAssessments).toContainEqual(
      expect.objectContaining({ check: "SingleFaceOnImage", score: 0 }),
    );
    const after = await server.app.store.get(bcid(server.clients.alice, 10n));
    expect(after?.version).toBe(before?.version);
  });

  it("counts only images whose features were added and keeps the good ones of a mixed call", async () => {
    const api = clientFor(server);
    const res = await api.enroll({
      classId: 11n,
      images: [
        ...images("people/person-05/01.jpg"),
        { image: new TextEncoder().encode("garbage") },
        ...images("multi/two-people.jpg", "people/person-05/02.jpg"),
      ],
    });
    expect(res.performedAction).toBe(Action.NEW_TEMPLATE_CREATED);
    expect(res.enrolledImages).toBe(2);
    expect(res.imageProperties).toHaveLength(4);
    expect(res.errors).toEqual([
      expect.objectContaining({
        errorCode: "InvalidImage",
        message: expect.stringMatching(/^images\[1\]: /),
      }),
    ]);
  });

  it("keeps at most templates.maxFeatureVectors vectors, dropping the oldest", async () => {
    const api = clientFor(server);
    const photos = [...photosByIdentity().values()].flat().filter((p) => p.startsWith("people/"));
    for (let i = 0; i < 26; i += 13) {
      await api.enroll({ classId: 12n, images: images(...photos.slice(i, i + 13)) });
    }
    const status = await api.getTemplateStatus({ classId: 12n });
    expect(status.featureVectors).toBe(24);
    expect(status.thumbnailsStored).toBe(24);
  });
});

describe("photos with several faces", () => {
  it("uses the face that dominates, but adds it only when it matches the class", async () => {
    const api = clientFor(server);
    const created = await api.enroll({ classId: 15n, images: images("people/biden/01.jpg") });
    expect(created.performedAction).toBe(Action.NEW_TEMPLATE_CREATED);
    const before = await server.app.store.get(bcid(server.clients.alice, 15n));

    // Obama in front, Biden passing behind: the face used is Obama's, not this class's person.
    const stranger = await api.enroll({
      classId: 15n,
      images: [{ image: await withPasserBy("people/obama/01.jpg", "people/biden/02.jpg") }],
    });
    expect(stranger.imageProperties[0]?.faces).toHaveLength(2);
    expect(stranger.imageProperties[0]?.qualityAssessments).toContainEqual(
      expect.objectContaining({
        check: "SingleFaceOnImage",
        message: expect.stringMatching(/^2 faces found; the first one listed .* was used/),
      }),
    );
    expect(stranger.performedAction).toBe(Action.ENROLLMENT_FAILED);
    expect(stranger.errors).toEqual([
      expect.objectContaining({
        errorCode: "FaceDoesNotMatch",
        message: expect.stringMatching(
          /^images\[0\]: of the 2 faces on this photo, the one that dominates does not match/,
        ),
      }),
    ]);
    const after = await server.app.store.get(bcid(server.clients.alice, 15n));
    expect(after?.version).toBe(before?.version);

    // Biden in front with someone behind him: added to Biden's class, and verifies.
    const own = await withPasserBy("people/biden/02.jpg", "people/obama/02.jpg");
    const added = await api.enroll({ classId: 15n, images: [{ image: own }] });
    expect(added.performedAction).toBe(Action.TEMPLATE_UPDATED);
    expect(added.enrolledImages).toBe(1);
    const verified = await api.verify({ classId: 15n, image: { image: own } });
    expect(verified.verified).toBe(true);
    expect(verified.imageProperties?.faces).toHaveLength(2);
  });
});

describe("encoder upgrade", () => {
  it("rebuilds an encoder-2 template from its thumbnails (TEMPLATE_UPGRADED) and drops the old vectors", async () => {
    // A server on encoder 2 makes the template; the same data under encoder 3 upgrades it.
    let s = await startTestServer({ config: { face: { workers: 1, encoderVersion: 2 } } });
    try {
      let api = clientFor(s);
      const made = await api.enroll({
        classId: 20n,
        images: images("people/person-06/01.jpg", "people/person-06/02.jpg"),
      });
      expect(made.templateStatus).toMatchObject({
        encoderVersion: 2,
        featureVectors: 2,
        thumbnailsStored: 2,
      });
      const before = (await opened(s, 20n)).enhanced;
      expect(before.features.every((f) => f.vector.length === 128)).toBe(true);
      // Verify still works against an old template, with the old encoder.
      s = await s.restart({ face: { workers: 1, encoderVersion: 3 } });
      api = clientFor(s);
      const early = await api.verify({
        classId: 20n,
        image: { image: photo("people/person-06/03.jpg") },
      });
      expect(early.verified).toBe(true);

      const upgraded = await api.enroll({ classId: 20n, images: [] });
      expect(upgraded.performedAction).toBe(Action.TEMPLATE_UPGRADED);
      expect(upgraded.enrolledImages).toBe(0);
      expect(upgraded.templateStatus).toMatchObject({
        encoderVersion: 3,
        featureVectors: 2,
        thumbnailsStored: 2,
      });
      const { stored: stored2, enhanced: enhanced2 } = await opened(s, 20n);
      expect(enhanced2.encoderVersion).toBe(3);
      expect(enhanced2.features.map((f) => f.vector.length)).toEqual([512, 512]);
      const compact = s.app.vault.openCompact(bcid(s.clients.alice, 20n), stored2.compact);
      expect(compact.vector.length).toBe(512);

      const verified = await api.verify({
        classId: 20n,
        image: { image: photo("people/person-06/03.jpg") },
      });
      expect(verified.verified).toBe(true);
      const found = await api.search({ images: images("people/person-06/04.jpg") });
      expect(found.result[0]?.matches[0]?.classId).toBe(20n);

      // An upgrade that also adds images.
      s = await s.restart({ face: { workers: 1, encoderVersion: 2 } });
      await clientFor(s).enroll({ classId: 21n, images: images("people/person-07/01.jpg") });
      s = await s.restart({ face: { workers: 1, encoderVersion: 3 } });
      const mixed = await clientFor(s).enroll({
        classId: 21n,
        images: images("people/person-07/02.jpg"),
      });
      expect(mixed.performedAction).toBe(Action.TEMPLATE_UPGRADED);
      expect(mixed.enrolledImages).toBe(1);
      expect(mixed.templateStatus).toMatchObject({ encoderVersion: 3, featureVectors: 2 });
    } finally {
      await s.close();
    }
  });

  it("leaves an old template without thumbnails untouched and says why", async () => {
    const noThumbs = (s: TestServer) =>
      Object.values(s.clients).map((c) => ({
        clientId: c.clientId,
        keys: [c.key],
        storage: c.storage,
        partition: c.partition,
        storeThumbnails: false,
      }));
    let s = await startTestServer({ config: { face: { workers: 1, encoderVersion: 1 } } });
    try {
      s = await s.restart({ clients: noThumbs(s) });
      await clientFor(s).enroll({ classId: 30n, images: images("people/person-08/01.jpg") });
      const before = await s.app.store.get(bcid(s.clients.alice, 30n));
      expect(before).toMatchObject({ encoderVersion: 1, thumbnailCount: 0 });
      s = await s.restart({ face: { workers: 1, encoderVersion: 2 }, clients: noThumbs(s) });
      const api = clientFor(s);
      for (const request of [[], images("people/person-08/02.jpg")]) {
        const res = await api.enroll({ classId: 30n, images: request });
        expect(res.performedAction).toBe(Action.ENROLLMENT_FAILED);
        expect(res.errors[0]?.errorCode).toBe("TemplateUpgradeNotPossible");
        expect(res.templateStatus).toMatchObject({ encoderVersion: 1, featureVectors: 1 });
      }
      const after = await s.app.store.get(bcid(s.clients.alice, 30n));
      expect(after?.version).toBe(before?.version);
    } finally {
      await s.close();
    }
  });
});

describe("templates at rest", () => {
  it("refuses a tampered template with DATA_LOSS naming the class, and other classes keep working", async () => {
    const api = clientFor(server);
    await api.enroll({ classId: 40n, images: images("people/person-09/01.jpg") });
    await api.enroll({ classId: 41n, images: images("people/person-10/01.jpg") });
    const db = new Database(server.app.config.database);
    const flip = (column: "compact" | "enhanced") => {
      const row = db
        .prepare(`SELECT ${column} AS blob FROM templates WHERE class_id = 40`)
        .get() as { blob: Buffer };
      const blob = Buffer.from(row.blob);
      blob[blob.length - 5] = (blob[blob.length - 5] as number) ^ 0x01;
      db.prepare(`UPDATE templates SET ${column} = ? WHERE class_id = 40`).run(blob);
    };
    flip("enhanced");
    flip("compact");
    db.close();

    const probe = { image: photo("people/person-09/02.jpg") };
    for (const call of [
      () => api.getTemplateStatus({ classId: 40n, downloadThumbnails: true }),
      () => api.verify({ classId: 40n, image: probe }),
      () => api.enroll({ classId: 40n, images: images("people/person-09/03.jpg") }),
    ]) {
      const err = await call().catch((e: unknown) => ConnectError.from(e));
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.DataLoss);
      expect((err as ConnectError).rawMessage).toMatch(/class 40 failed authentication/);
    }
    // The refused enrollment wrote nothing over the damaged template.
    const row = await server.app.store.get(bcid(server.clients.alice, 40n));
    expect(row?.featureCount).toBe(1);
    // Search skips the damaged class; the others still match.
    const found = await api.search({ images: images("people/person-10/02.jpg"), topMatches: true });
    const ids = found.result[0]?.matches.map((m) => m.classId);
    expect(ids).toContain(41n);
    expect(ids).not.toContain(40n);
    expect(
      (await api.verify({ classId: 41n, image: { image: photo("people/person-10/02.jpg") } }))
        .verified,
    ).toBe(true);
  });

  it("leaves out of a tag-filtered Search a class whose tags were changed in the database, and says so", async () => {
    const api = clientFor(server);
    await api.enroll({ classId: 44n, images: images("people/person-03/01.jpg") });
    await api.setTemplateTags({ classId: 44n, tags: ["night-shift"] });
    await api.enroll({ classId: 45n, images: images("people/person-03/02.jpg") });
    const probe = images("people/person-03/03.jpg");
    const before = await api.search({ images: probe, tags: ["night-shift"], topMatches: true });
    expect(before.result[0]?.matches.map((m) => m.classId)).toEqual([44n]);
    // Class 45 gets the tag by hand, with a new revision so that the search index takes it up.
    const db = new Database(server.app.config.database);
    db.transaction(() => {
      const { storage, partition } = server.clients.alice;
      db.prepare(
        "UPDATE partitions SET revision = revision + 1 WHERE storage = ? AND partition = ?",
      ).run(storage, partition);
      db.prepare(
        "UPDATE templates SET tags = ?, revision = (SELECT revision FROM partitions WHERE storage = ? AND partition = ?) WHERE storage = ? AND partition = ? AND class_id = 45",
      ).run(JSON.stringify(["night-shift"]), storage, partition, storage, partition);
    })();
    db.close();
    const after = await api.search({ images: probe, tags: ["night-shift"], topMatches: true });
    expect(after.result[0]?.matches.map((m) => m.classId)).toEqual([44n]);
    expect(after.errors.map((e) => e.errorCode)).toContain("TemplateMetadataNotAuthentic");
  });

  it("writes no plaintext feature vector or thumbnail to the database files", async () => {
    const api = clientFor(server);
    const paths = ["people/person-11/01.jpg", "people/person-11/02.jpg"];
    await api.enroll({ classId: 50n, images: images(...paths) });
    const analyses = await server.app.faces.analyze(paths.map(photo), { thumbnails: true });
    const needles: Buffer[] = [];
    for (const a of analyses) {
      const v = a.features?.vector as Float32Array;
      const bytes = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      for (let i = 0; i + 16 <= bytes.length; i += 64) needles.push(bytes.subarray(i, i + 16));
      const png = Buffer.from(a.thumbnail as Uint8Array);
      needles.push(png.subarray(Math.floor(png.length / 2), Math.floor(png.length / 2) + 32));
    }
    // The thumbnails as stored must be these very thumbnails, or the search would prove nothing.
    const status = await api.getTemplateStatus({ classId: 50n, downloadThumbnails: true });
    expect(
      Buffer.from(status.thumbnails[0]?.image as Uint8Array).equals(
        Buffer.from(analyses[0]?.thumbnail as Uint8Array),
      ),
    ).toBe(true);
    const dir = server.dir;
    const files = readdirSync(dir).filter((f) => f.startsWith("facevault.db"));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const content = readFileSync(join(dir, file));
      for (const needle of needles)
        expect(content.includes(needle), `${file} holds plaintext`).toBe(false);
    }
  });
});

describe("concurrency", () => {
  it("keeps every image of 20 concurrent enrollments into one class", async () => {
    const api = clientFor(server);
    const photos = [...photosByIdentity().values()]
      .flat()
      .filter((p) => p.startsWith("people/"))
      .slice(0, 20);
    const results = await Promise.all(
      photos.map((p) => api.enroll({ classId: 60n, images: images(p) })),
    );
    expect(results.every((r) => r.enrolledImages === 1)).toBe(true);
    expect(results.filter((r) => r.performedAction === Action.NEW_TEMPLATE_CREATED)).toHaveLength(
      1,
    );
    const status = await api.getTemplateStatus({ classId: 60n });
    expect(status.featureVectors).toBe(20);
    expect(status.thumbnailsStored).toBe(20);
  });
});

describe("partitions", () => {
  it("never shows a class to another partition's client", async () => {
    const alice = clientFor(server);
    const bob = clientFor(server, server.clients.bob);
    await alice.enroll({ classId: 70n, images: images("people/person-12/01.jpg") });
    expect((await bob.getTemplateStatus({ classId: 70n })).available).toBe(false);
    expect(
      await codeOf(
        bob.verify({ classId: 70n, image: { image: photo("people/person-12/02.jpg") } }),
      ),
    ).toBe(Code.NotFound);
    const found = await bob.search({ images: images("people/person-12/02.jpg"), topMatches: true });
    expect(found.result[0]?.matches).toEqual([]);
    const aliceFound = await alice.search({ images: images("people/person-12/02.jpg") });
    expect(aliceFound.result[0]?.matches[0]?.classId).toBe(70n);
  });
});

describe("search", () => {
  it("filters by tags, returns the best 10 with topMatches, best first", async () => {
    const api = clientFor(server);
    await api.enroll({ classId: 80n, images: images("people/person-13/01.jpg") });
    await api.setTemplateTags({ classId: 80n, tags: ["staff", "berlin"] });
    // More classes than the 10 topMatches returns: one per other identity.
    const others = [...photosByIdentity()]
      .filter(([id]) => id !== "person-13")
      .map(([, files]) => files[0] as string)
      .slice(0, 11);
    for (const [i, p] of others.entries()) {
      await api.enroll({ classId: 100n + BigInt(i), images: images(p) });
    }
    const probe = images("people/person-13/02.jpg");
    const tagged = await api.search({ images: probe, tags: ["staff"] });
    expect(tagged.result[0]?.matches.map((m) => m.classId)).toEqual([80n]);
    expect(
      (await api.search({ images: probe, tags: ["staff", "paris"] })).result[0]?.matches,
    ).toEqual([]);
    const top = await api.search({ images: probe, topMatches: true });
    const matches = top.result[0]?.matches ?? [];
    expect(matches.length).toBe(10);
    expect(matches[0]?.classId).toBe(80n);
    const scores = matches.map((m) => m.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(scores.every((x) => x > 0 && x <= 1)).toBe(true);
    // Without topMatches only classes at or above the decision threshold come back.
    const plain = await api.search({ images: probe });
    expect(plain.result[0]?.matches.every((m) => m.score >= 0.5)).toBe(true);
  });
});
