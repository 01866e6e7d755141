import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import {
  allDistances,
  bruteForce,
  gaussianVectors,
  probesFor,
} from "../../test/support/search-reference.js";
import { readVectorFixture } from "../../test/support/vector-fixture.js";
import { cosineDistance, euclideanDistance } from "../face/encoders.js";
import { createSqliteTemplateStore } from "../store/sqlite-template-store.js";
import type { Bcid, TemplateStore } from "../store/template-store.js";
import {
  createSearchIndexes,
  type PartitionIndex,
  type SearchQuery,
  type VectorMetric,
} from "./search-index.js";
import { createTemplateSealer } from "./template-sealer.js";
import { createTemplateVault } from "./template-vault.js";
import { quantizeRow } from "./vector-quantizer.js";

const logger = pino({ level: "silent" });
/** Real 128-D vectors in test/fixtures/search (see bench/make-search-fixture.ts). */
const REAL_VECTORS = 10_000;
const vault = createTemplateVault({
  sealer: createTemplateSealer({ masterKeys: [new Uint8Array(32).fill(3)] }),
});
const bcid = (classId: bigint): Bcid => ({ storage: "s", partition: 1, classId });

async function put(
  store: TemplateStore,
  classId: bigint,
  vector: ArrayLike<number>,
  tags: string[] = [],
) {
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

async function ids(index: PartitionIndex, query: SearchQuery): Promise<bigint[]> {
  return (await index.search(query)).map((m) => m.classId);
}

describe("search index", () => {
  it("returns matches best first within the distance and limit", async () => {
    const { store, index } = await setup();
    await put(store, 1n, [0, 0, 0]);
    await put(store, 2n, [1, 0, 0]);
    await put(store, 3n, [0, 3, 0]);
    await index.sync();
    const probe = Float32Array.from([0.9, 0, 0]);
    expect(await ids(index, { ...everything, probe })).toEqual([2n, 1n, 3n]);
    const near = await index.search({ ...everything, probe, maxDistance: 1 });
    expect(near.map((m) => m.classId)).toEqual([2n, 1n]);
    expect(near[0]?.distance).toBeCloseTo(0.1, 5);
    expect(await ids(index, { ...everything, probe, limit: 1 })).toEqual([2n]);
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
      const got = await index.search({ ...everything, probe });
      expect(got.map((m) => m.classId)).toEqual(expected.map((m) => m.classId));
      got.forEach((m, i) => {
        expect(m.distance).toBeCloseTo(expected[i]?.distance as number, 5);
      });
      // With a cut-off, exactly the rows within it.
      const cut = ((expected[4]?.distance as number) + (expected[5]?.distance as number)) / 2;
      expect((await index.search({ ...everything, probe, maxDistance: cut })).length).toBe(5);
    }
  });

  it("compares by angle for cosine encoders", async () => {
    const { store, index } = await setup("cosine");
    await put(store, 1n, [10, 0, 0]);
    await put(store, 2n, [1, 1, 0]);
    await index.sync();
    const [best, second] = await index.search({
      ...everything,
      probe: Float32Array.from([0.5, 0, 0]),
    });
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
    expect(await ids(index, { ...everything, probe, tags: ["a", "b"] })).toEqual([1n]);
    await store.setTags(bcid(2n), ["a", "b"]);
    await store.delete(bcid(1n));
    await put(store, 3n, [0, 0, 0.5]);
    await index.sync();
    expect(index.size).toBe(2);
    expect(await ids(index, { ...everything, probe, tags: ["a", "b"] })).toEqual([2n]);
    expect(await ids(index, { ...everything, probe })).toEqual([3n, 2n]);
  });

  it("skips a compact template that fails authentication, at load and at search time", async () => {
    const { store, index } = await setup();
    await put(store, 1n, [0, 0, 0]);
    await put(store, 2n, [1, 0, 0]);
    // A store whose compact template of class 1 was sealed for another class.
    let damaged = false;
    const broken = Object.create(store) as TemplateStore;
    const damage = <T extends { classId: bigint; compact: Uint8Array }>(entry: T): T =>
      damaged && entry.classId === 1n
        ? {
            ...entry,
            compact: vault.sealCompact(
              bcid(99n),
              { encoderVersion: 2, featureCount: 1, vector: new Float32Array(3) },
              false,
            ),
          }
        : entry;
    broken.partitionChanges = async (...args) => {
      const changes = await store.partitionChanges(...args);
      return { ...changes, upserts: changes.upserts.map(damage) };
    };
    broken.compactPage = async (...args) => {
      const page = await store.compactPage(...args);
      return { ...page, entries: page.entries.map(damage) };
    };
    broken.compactTemplates = async (...args) =>
      (await store.compactTemplates(...args)).map(damage);

    damaged = true;
    const atLoad = await setup("euclidean", broken);
    await atLoad.index.sync();
    expect(atLoad.index.size).toBe(1);
    expect(await ids(atLoad.index, { ...everything, probe: Float32Array.from([0, 0, 0]) })).toEqual(
      [2n],
    );

    // Loaded while intact, damaged afterwards (same revision): left out, the others still answer.
    damaged = false;
    const atSearch = await setup("euclidean", broken);
    await atSearch.index.sync();
    expect(atSearch.index.size).toBe(2);
    damaged = true;
    const probe = Float32Array.from([0, 0, 0]);
    expect(await ids(atSearch.index, { ...everything, probe })).toEqual([2n]);
    expect(atSearch.index.size).toBe(1);
    await index.sync();
    expect(index.size).toBe(2);
  });

  it("ranks with the vector the store holds when a candidate changed after the sync", async () => {
    const { store, index } = await setup();
    await put(store, 1n, [0, 0, 0]);
    await put(store, 2n, [1, 0, 0]);
    await index.sync();
    // Written by another process after this index's sync: the search sees the changed
    // candidate, catches up and answers from the new state.
    await put(store, 1n, [5, 5, 5]);
    await store.delete(bcid(2n));
    await put(store, 3n, [0.5, 0, 0]);
    const probe = Float32Array.from([0, 0, 0]);
    const matches = await index.search({ ...everything, probe });
    expect(matches.map((m) => m.classId)).toEqual([3n, 1n]);
    expect(matches[1]?.distance).toBeCloseTo(Math.sqrt(75), 5);
  });

  it("loads a partition page by page and catches up with writes made meanwhile", async () => {
    const store = await createSqliteTemplateStore({ path: ":memory:" });
    for (let i = 1; i <= 25; i++) await put(store, BigInt(i * 10), [i, 0, 0]);
    const paged = Object.create(store) as TemplateStore;
    let pages = 0;
    paged.compactPage = async (...args) => {
      const page = await store.compactPage(...args);
      pages++;
      if (pages === 2) {
        // Between two pages: a row behind the cursor, a deleted one ahead of it, a new one.
        await put(store, 5n, [0.5, 0, 0]);
        await store.delete(bcid(200n));
        await put(store, 105n, [10.5, 0, 0]);
      }
      return page;
    };
    const indexes = createSearchIndexes({
      store: paged,
      vault,
      encoderVersion: 2,
      dimension: 3,
      metric: "euclidean",
      logger,
      loadPageSize: 4,
    });
    const index = indexes.partition("s", 1);
    await index.sync();
    expect(pages).toBe(7);
    expect(index.size).toBe(26);
    const all = await ids(index, {
      ...everything,
      probe: Float32Array.from([0, 0, 0]),
      limit: 100,
    });
    const expected = [5n, ...Array.from({ length: 25 }, (_, i) => BigInt((i + 1) * 10))]
      .filter((c) => c !== 200n)
      .concat([105n])
      .sort((a, b) => Number(a - b));
    expect([...all].sort((a, b) => Number(a - b))).toEqual(expected);
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
    expect(await ids(index, { ...everything, probe: Float32Array.from([0, 0, 0]) })).toEqual([7n]);
  });

  it("answers searches of another partition while a large one loads", async () => {
    const store = await createSqliteTemplateStore({ path: ":memory:" });
    for (let i = 1; i <= 3000; i++) await put(store, BigInt(i), [i, 0, 0]);
    const other = { storage: "s", partition: 2, classId: 1n };
    const now = new Date();
    const vector = Float32Array.from([1, 2, 3]);
    await store.put(
      {
        bcid: other,
        encoderVersion: 2,
        tags: [],
        createdAt: now,
        enrolledAt: now,
        featureCount: 1,
        thumbnailCount: 0,
        compact: vault.sealCompact(other, { encoderVersion: 2, featureCount: 1, vector }, false),
        enhanced: new Uint8Array(0),
      },
      0,
    );
    const indexes = createSearchIndexes({
      store,
      vault,
      encoderVersion: 2,
      dimension: 3,
      metric: "euclidean",
      logger,
      loadPageSize: 50,
    });
    const order: string[] = [];
    const big = indexes.partition("s", 1);
    const loading = big.sync().then(() => order.push("large partition loaded"));
    const small = indexes.partition("s", 2);
    await small.sync();
    expect(await ids(small, { ...everything, probe: vector })).toEqual([1n]);
    order.push("other partition answered");
    await loading;
    expect(order).toEqual(["other partition answered", "large partition loaded"]);
    expect(big.size).toBe(3000);
  });

  it("equals a brute-force float64 scan on the real fixture vectors, through the store", async () => {
    const vectors = readVectorFixture(
      fileURLToPath(new URL("../../test/fixtures/search/real-vectors-128.sealed", import.meta.url)),
    );
    expect(vectors.length).toBeGreaterThanOrEqual(REAL_VECTORS);
    const { store, index } = await setup("euclidean", undefined, 128);
    const now = new Date();
    for (const [i, vector] of vectors.entries()) {
      const at = bcid(BigInt(i + 1));
      await store.put(
        {
          bcid: at,
          encoderVersion: 2,
          tags: i % 2 === 0 ? ["odd"] : [],
          createdAt: now,
          enrolledAt: now,
          featureCount: 1,
          thumbnailCount: 0,
          compact: vault.sealCompact(at, { encoderVersion: 2, featureCount: 1, vector }, false),
          enhanced: new Uint8Array(0),
        },
        0,
      );
    }
    await index.sync();
    expect(index.size).toBe(vectors.length);
    for (const probe of probesFor(vectors, 21)) {
      const distances = allDistances(vectors, probe, "euclidean");
      expect(await index.search({ ...everything, probe })).toEqual(bruteForce(distances));
      expect(await index.search({ ...everything, probe, tags: ["odd"] })).toEqual(
        bruteForce(distances, { keep: (i) => i % 2 === 0 }),
      );
      // The service's default: every match above the decision threshold, at most 100.
      const maxDistance = 0.54;
      expect(await index.search({ ...everything, probe, maxDistance, limit: 100 })).toEqual(
        bruteForce(distances, { maxDistance, limit: 100 }),
      );
    }
  }, 120_000);

  describe("search snapshots", () => {
    async function bigPartition(count: number) {
      const store = await createSqliteTemplateStore({ path: ":memory:" });
      const vectors = gaussianVectors(count, 16, 4);
      const now = new Date();
      for (const [i, vector] of vectors.entries()) {
        const at = bcid(BigInt(i + 1));
        await store.put(
          {
            bcid: at,
            encoderVersion: 2,
            tags: i % 3 === 0 ? ["a"] : i % 3 === 1 ? ["a", "b"] : [],
            createdAt: now,
            enrolledAt: now,
            featureCount: 1,
            thumbnailCount: 0,
            compact: vault.sealCompact(at, { encoderVersion: 2, featureCount: 1, vector }, false),
            enhanced: new Uint8Array(0),
          },
          0,
        );
      }
      return { store, vectors };
    }

    /** An index on `store` that counts the pages it reads and the snapshots it writes. */
    function indexOn(store: TemplateStore, snapshotChunkRows?: number) {
      let pages = 0;
      let written = 0;
      const counting = Object.create(store) as TemplateStore;
      counting.compactPage = (...args) => {
        pages++;
        return store.compactPage(...args);
      };
      counting.putSearchSnapshot = (...args) => {
        written++;
        return store.putSearchSnapshot(...args);
      };
      const index = createSearchIndexes({
        store: counting,
        vault,
        encoderVersion: 2,
        dimension: 16,
        metric: "euclidean",
        logger,
        snapshotMinTemplates: 100,
        ...(snapshotChunkRows ? { snapshotChunkRows } : {}),
      }).partition("s", 1);
      return { index, pages: () => pages, written: () => written };
    }

    async function snapshotStored(store: TemplateStore, revision: number) {
      // Stored in the background after the load; generous for a busy box.
      for (let i = 0; i < 2000; i++) {
        if ((await store.searchSnapshot("s", 1))?.revision === revision) return;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error("no snapshot was stored");
    }

    it("writes a snapshot after loading templates; the next index loads from it and catches up", async () => {
      const { store, vectors } = await bigPartition(9000);
      const first = indexOn(store);
      await first.index.sync();
      expect(first.pages()).toBeGreaterThan(1);
      await snapshotStored(store, 9000);
      expect(await store.searchSnapshot("s", 1)).toMatchObject({ chunks: 5 });
      // Sealed: the class ids and codes of the rows are nowhere in the stored bytes.
      const id = (await store.searchSnapshot("s", 1))?.id as number;
      const stored = Buffer.from((await store.searchSnapshotChunk("s", 1, id, 0))?.bytes ?? []);
      const ids = Buffer.from(BigInt64Array.from([1n, 2n, 3n]).buffer);
      const code = Buffer.from(quantizeRow(vectors[0] as Float32Array, "euclidean").codes.buffer);
      expect(stored.length).toBeGreaterThan(2048 * 32);
      expect(stored.indexOf(ids)).toBe(-1);
      expect(stored.indexOf(code.subarray(0, 16))).toBe(-1);
      // Changes after the snapshot: a new vector, new tags, a new class.
      await put(store, 5n, vectors[100] as Float32Array, ["a"]);
      await store.setTags(bcid(7n), ["b"]);
      await put(store, 9001n, vectors[200] as Float32Array, ["b"]);

      const second = indexOn(store);
      await second.index.sync();
      await first.index.sync();
      expect(second.pages()).toBe(0);
      expect(second.index.size).toBe(9001);
      for (const probe of gaussianVectors(5, 16, 8)) {
        for (const tags of [[], ["a"], ["b"], ["a", "b"]]) {
          const query = { probe, tags, maxDistance: Number.POSITIVE_INFINITY, limit: 10 };
          expect(await second.index.search(query)).toEqual(await first.index.search(query));
        }
      }
    });

    it("a delete erases only the chunk of its class; the next index reads that range from the templates", async () => {
      const { store, vectors } = await bigPartition(300);
      const first = indexOn(store, 64);
      await first.index.sync();
      await snapshotStored(store, 300);
      expect(await store.searchSnapshot("s", 1)).toMatchObject({ revision: 300, chunks: 5 });
      const id = (await store.searchSnapshot("s", 1))?.id as number;
      expect(await store.delete(bcid(100n))).toBe(true);
      // Chunk 1 held classes 65 to 128: its rows are gone, its range stays; the others are kept.
      expect(await store.searchSnapshot("s", 1)).toMatchObject({ revision: 300, chunks: 5 });
      expect(await store.searchSnapshot("s", 1)).toMatchObject({ id });
      expect(await store.searchSnapshotChunk("s", 1, id, 1)).toEqual({
        firstClassId: 65n,
        lastClassId: 128n,
      });
      for (const chunk of [0, 2, 3, 4]) {
        expect((await store.searchSnapshotChunk("s", 1, id, chunk))?.bytes).toBeInstanceOf(
          Uint8Array,
        );
      }

      const next = indexOn(store, 64);
      await next.index.sync();
      expect(next.pages()).toBe(1); // the cleared range only
      expect(next.index.size).toBe(299);
      await first.index.sync();
      const probe = vectors[99] as Float32Array;
      for (const tags of [[], ["a"], ["b"]]) {
        const query = { probe, tags, maxDistance: Number.POSITIVE_INFINITY, limit: 10 };
        const found = await next.index.search(query);
        expect(found).toEqual(await first.index.search(query));
        expect(found.map((m) => m.classId)).not.toContain(100n);
      }
    });

    it("writes chunks in class id order whatever the order of the rows", async () => {
      const { store, vectors } = await bigPartition(300);
      for (let id = 1n; id <= 50n; id++) await store.delete(bcid(id));
      await indexOn(store, 64).index.sync();
      await snapshotStored(store, 350);
      // Classes 1 to 50 come back and 301 to 500 arrive after the snapshot: the next load
      // appends them after the snapshot's rows, out of class id order.
      const more = gaussianVectors(250, 16, 5);
      for (let i = 0; i < 50; i++) await put(store, BigInt(50 - i), more[i] as Float32Array, ["c"]);
      for (let i = 0; i < 200; i++) await put(store, BigInt(301 + i), more[50 + i] as Float32Array);
      const second = indexOn(store, 64);
      await second.index.sync(); // 250 changes caught up: it writes a new snapshot
      await snapshotStored(store, 600);
      expect(await store.searchSnapshot("s", 1)).toMatchObject({ chunks: 8 });
      const id = (await store.searchSnapshot("s", 1))?.id as number;
      let previous = 0n;
      for (let chunk = 0; chunk < 8; chunk++) {
        const stored = await store.searchSnapshotChunk("s", 1, id, chunk);
        expect(stored?.firstClassId).toBe(previous + 1n);
        previous = stored?.lastClassId as bigint;
      }
      expect(previous).toBe(500n);

      expect(await store.delete(bcid(3n))).toBe(true);
      const third = indexOn(store, 64);
      await third.index.sync();
      expect(third.pages()).toBe(1);
      expect(third.index.size).toBe(499);
      for (const probe of [vectors[2], vectors[200], more[0], more[249]] as Float32Array[]) {
        for (const tags of [[], ["c"], ["a"]]) {
          const query = { probe, tags, maxDistance: Number.POSITIVE_INFINITY, limit: 10 };
          expect(await third.index.search(query)).toEqual(await second.index.search(query));
        }
      }
    });

    it("writes a new snapshot once a tenth of the partition changed while it serves, one for all replicas", async () => {
      const { store } = await bigPartition(300);
      const more = gaussianVectors(200, 16, 6);
      const first = indexOn(store, 64);
      await first.index.sync();
      await snapshotStored(store, 300);
      // 99 new classes: fewer than snapshotMinTemplates (100) since the snapshot.
      for (let i = 0; i < 99; i++) await put(store, BigInt(301 + i), more[i] as Float32Array);
      await first.index.sync();
      expect(await store.searchSnapshot("s", 1)).toMatchObject({ revision: 300 });
      await put(store, 400n, more[99] as Float32Array);
      await first.index.sync();
      await snapshotStored(store, 400);

      // A replica that loaded from it sees the same 100 changes next; the first writes for both.
      const replica = indexOn(store, 64);
      await replica.index.sync();
      expect(replica.written()).toBe(0); // loaded from the snapshot, nothing to catch up
      for (let i = 100; i < 200; i++) await put(store, BigInt(301 + i), more[i] as Float32Array);
      await first.index.sync();
      await snapshotStored(store, 500);
      await replica.index.sync();
      expect(replica.written()).toBe(0);
      expect(replica.index.size).toBe(500);
      const probe = more[150] as Float32Array;
      const query = { probe, tags: [], maxDistance: Number.POSITIVE_INFINITY, limit: 5 };
      expect(await replica.index.search(query)).toEqual(await first.index.search(query));
    });

    it("a damaged chunk falls back to loading templates", async () => {
      const { store } = await bigPartition(300);
      const first = indexOn(store);
      await first.index.sync();
      await snapshotStored(store, 300);
      const damaged = Object.create(store) as TemplateStore;
      damaged.searchSnapshotChunk = async (...args) => {
        const chunk = await store.searchSnapshotChunk(...args);
        const bytes = chunk?.bytes;
        if (bytes) bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
        return chunk;
      };
      const fallback = indexOn(damaged);
      await fallback.index.sync();
      expect(fallback.pages()).toBeGreaterThan(0);
      expect(fallback.index.size).toBe(300);
      const probe = new Float32Array(16);
      const query = { probe, tags: [], maxDistance: Number.POSITIVE_INFINITY, limit: 5 };
      expect(await fallback.index.search(query)).toEqual(await first.index.search(query));
    });
  });
});
