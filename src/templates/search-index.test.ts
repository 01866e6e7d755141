import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { cosineDistance, euclideanDistance } from "../face/encoders.js";
import { createSqliteTemplateStore } from "../store/sqlite-template-store.js";
import type { Bcid, TemplateStore } from "../store/template-store.js";
import { createSearchIndexes, type VectorMetric } from "./search-index.js";
import { createTemplateSealer } from "./template-sealer.js";
import { createTemplateVault } from "./template-vault.js";

const logger = pino({ level: "silent" });
const vault = createTemplateVault({
  sealer: createTemplateSealer({ masterKeys: [new Uint8Array(32).fill(3)] }),
});
const bcid = (classId: bigint): Bcid => ({ storage: "s", partition: 1, classId });

async function put(store: TemplateStore, classId: bigint, vector: number[], tags: string[] = []) {
  const v = Float32Array.from(vector);
  const existing = await store.get(bcid(classId));
  const now = new Date();
  await store.put(
    {
      bcid: bcid(classId),
      encoderVersion: 2,
      tags,
      createdAt: now,
      enrolledAt: now,
      featureCount: 1,
      thumbnailCount: 0,
      compact: vault.sealCompact(
        bcid(classId),
        { encoderVersion: 2, featureCount: 1, vector: v },
        false,
      ),
      enhanced: vault.sealEnhanced(bcid(classId), {
        encoderVersion: 2,
        features: [{ enrolledAt: now, vector: v }],
        thumbnails: [],
      }),
    },
    existing?.version ?? 0,
  );
}

async function setup(metric: VectorMetric = "euclidean", store?: TemplateStore, dimension = 3) {
  const db = store ?? (await createSqliteTemplateStore({ path: ":memory:" }));
  const indexes = createSearchIndexes({
    store: db,
    vault,
    encoderVersion: 2,
    dimension,
    metric,
    logger,
  });
  return { store: db, index: indexes.partition("s", 1) };
}

const everything = { tags: [], maxDistance: Number.POSITIVE_INFINITY, limit: 10 };

describe("search index", () => {
  it("returns matches best first within the distance and limit", async () => {
    const { store, index } = await setup();
    await put(store, 1n, [0, 0, 0]);
    await put(store, 2n, [1, 0, 0]);
    await put(store, 3n, [0, 3, 0]);
    await index.sync();
    const probe = Float32Array.from([0.9, 0, 0]);
    expect(index.search({ ...everything, probe }).map((m) => m.classId)).toEqual([2n, 1n, 3n]);
    const near = index.search({ ...everything, probe, maxDistance: 1 });
    expect(near.map((m) => m.classId)).toEqual([2n, 1n]);
    expect(near[0]?.distance).toBeCloseTo(0.1, 5);
    expect(index.search({ ...everything, probe, limit: 1 }).map((m) => m.classId)).toEqual([2n]);
  });

  it("agrees with a plain distance computation on 128-D vectors, both metrics", async () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31 - 0.5;
    };
    const vectors = Array.from({ length: 60 }, () => Array.from({ length: 128 }, random));
    const probe = Float32Array.from({ length: 128 }, random);
    for (const metric of ["euclidean", "cosine"] as const) {
      const { store, index } = await setup(metric, undefined, 128);
      for (const [i, v] of vectors.entries()) await put(store, BigInt(i + 1), v);
      await index.sync();
      const expected = vectors
        .map((v, i) => ({
          classId: BigInt(i + 1),
          distance: (metric === "euclidean" ? euclideanDistance : cosineDistance)(
            Float32Array.from(v),
            probe,
          ),
        }))
        .sort((a, b) => a.distance - b.distance)
        .slice(0, 10);
      expect(index.size).toBe(60);
      const got = index.search({ ...everything, probe });
      expect(got.map((m) => m.classId)).toEqual(expected.map((m) => m.classId));
      got.forEach((m, i) => {
        expect(m.distance).toBeCloseTo(expected[i]?.distance as number, 5);
      });
      // With a cut-off, exactly the rows within it.
      const cut = ((expected[4]?.distance as number) + (expected[5]?.distance as number)) / 2;
      expect(index.search({ ...everything, probe, maxDistance: cut }).length).toBe(5);
    }
  });

  it("compares by angle for cosine encoders", async () => {
    const { store, index } = await setup("cosine");
    await put(store, 1n, [10, 0, 0]);
    await put(store, 2n, [1, 1, 0]);
    await index.sync();
    const [best, second] = index.search({ ...everything, probe: Float32Array.from([0.5, 0, 0]) });
    expect(best).toMatchObject({ classId: 1n });
    expect(best?.distance).toBeCloseTo(0, 6);
    expect(second?.distance).toBeCloseTo(1 - Math.SQRT1_2, 6);
  });

  it("filters by tags and follows updates, tag changes and deletes", async () => {
    const { store, index } = await setup();
    await put(store, 1n, [0, 0, 0], ["a", "b"]);
    await put(store, 2n, [0, 0, 1], ["a"]);
    await index.sync();
    const probe = Float32Array.from([0, 0, 0]);
    expect(index.search({ ...everything, probe, tags: ["a", "b"] }).map((m) => m.classId)).toEqual([
      1n,
    ]);
    await store.setTags(bcid(2n), ["a", "b"]);
    await store.delete(bcid(1n));
    await put(store, 3n, [0, 0, 0.5]);
    await index.sync();
    expect(index.size).toBe(2);
    expect(index.search({ ...everything, probe, tags: ["a", "b"] }).map((m) => m.classId)).toEqual([
      2n,
    ]);
    expect(index.search({ ...everything, probe }).map((m) => m.classId)).toEqual([3n, 2n]);
  });

  it("skips a compact template that fails authentication", async () => {
    const { store, index } = await setup();
    await put(store, 1n, [0, 0, 0]);
    const broken = Object.create(store) as TemplateStore;
    broken.partitionChanges = async (...args) => {
      const changes = await store.partitionChanges(...args);
      for (const u of changes.upserts)
        u.compact = vault.sealCompact(
          bcid(99n),
          { encoderVersion: 2, featureCount: 1, vector: new Float32Array(3) },
          false,
        );
      return changes;
    };
    const other = await setup("euclidean", broken);
    await other.index.sync();
    expect(other.index.size).toBe(0);
    await index.sync();
    expect(index.size).toBe(1);
  });

  it("never answers a search from a sync that read the store before an acknowledged write", async () => {
    const store = await createSqliteTemplateStore({ path: ":memory:" });
    let hold: Promise<void> | undefined;
    const gated = Object.create(store) as TemplateStore;
    gated.partitionChanges = async (...args) => {
      const changes = await store.partitionChanges(...args);
      await hold; // the read is done; its answer is delayed
      return changes;
    };
    const { index } = await setup("euclidean", gated);
    await index.sync();
    let release = () => {};
    hold = new Promise((resolve) => {
      release = resolve;
    });
    const early = index.sync(); // reads the store now, before the write
    await new Promise((r) => setTimeout(r, 20));
    await put(store, 7n, [0, 0, 0]); // acknowledged
    const late = index.sync(); // asked after the write: must see it
    hold = undefined;
    release();
    await early;
    await late;
    expect(
      index.search({ ...everything, probe: Float32Array.from([0, 0, 0]) }).map((m) => m.classId),
    ).toEqual([7n]);
  });
});
