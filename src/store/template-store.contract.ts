import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mulberry32 } from "../../test/support/search-reference.js";
import { type FacevaultError, isFacevaultError } from "../errors.js";
import type { JobLog, JobRecord } from "./job-log.js";
import type { TemplateCatalog } from "./template-catalog.js";
import type {
  Bcid,
  CompactEntry,
  SnapshotChunkWrite,
  StoredTemplate,
  TemplateStore,
  TemplateStoreMaintenance,
  TemplateWrite,
} from "./template-store.js";

/**
 * The behaviour every TemplateStore must have, run against a real database by each backend's
 * test file. Tests share one database per file and stay apart by using their own storage names.
 */
export interface TemplateStoreHarness {
  /**
   * Opens a new store instance (own connection or pool) on the test file's database; every call
   * runs the migrations again. The contract closes what it opens.
   */
  open(): Promise<TemplateStore & JobLog & TemplateCatalog & TemplateStoreMaintenance>;
}

const MAX_CLASS_ID = 2n ** 63n - 1n;

export function describeTemplateStoreContract(name: string, harness: TemplateStoreHarness): void {
  describe(`${name}: TemplateStore contract`, () => {
    let store: TemplateStore & JobLog & TemplateCatalog & TemplateStoreMaintenance;
    let second: TemplateStore & JobLog & TemplateCatalog & TemplateStoreMaintenance;
    let storages = 0;
    /** A storage name no other test uses, so every test starts from empty partitions. */
    const freshStorage = () => `storage-${++storages}`;

    beforeAll(async () => {
      store = await harness.open();
      second = await harness.open();
    });
    afterAll(async () => {
      await store?.close();
      await second?.close();
    });

    describe("get and put", () => {
      it("returns undefined for a class that was never written", async () => {
        expect(await store.get({ storage: freshStorage(), partition: 1, classId: 1n })).toBe(
          undefined,
        );
      });

      it("creates version 1 and returns every field unchanged, for class ids up to 2^63 - 1", async () => {
        const storage = freshStorage();
        for (const classId of [1n, 2n ** 53n + 1n, MAX_CLASS_ID - 1n, MAX_CLASS_ID]) {
          const write = templateWrite({ storage, partition: 7, classId });
          expect(await store.put(write, 0)).toBe(1);
          const stored = await store.get(write.bcid);
          expect(stored).toEqual({ ...write, version: 1 });
          expect(stored?.bcid.classId).toBe(classId);
          expect(stored?.compact).toBeInstanceOf(Uint8Array);
        }
      });

      it("keeps apart class ids that a JS number would round to the same value", async () => {
        const storage = freshStorage();
        const high = { storage, partition: 0, classId: MAX_CLASS_ID };
        const lower = { storage, partition: 0, classId: MAX_CLASS_ID - 1n };
        expect(Number(high.classId)).toBe(Number(lower.classId));
        await store.put(templateWrite(high, { tags: ["high"] }), 0);
        await store.put(templateWrite(lower, { tags: ["lower"] }), 0);
        expect((await store.get(high))?.tags).toEqual(["high"]);
        expect((await store.get(lower))?.tags).toEqual(["lower"]);
        const { upserts } = await store.partitionChanges(storage, 0, 0);
        expect(upserts.map((entry) => entry.classId)).toEqual([lower.classId, high.classId]);
      });

      it("replaces the template and increments the version on put and on setTags", async () => {
        const bcid = { storage: freshStorage(), partition: 1, classId: 42n };
        await store.put(templateWrite(bcid), 0);
        const replacement = templateWrite(bcid, {
          encoderVersion: 3,
          featureCount: 9,
          thumbnailCount: 4,
          tags: ["b", "a"],
          enrolledAt: new Date(Date.UTC(2031, 0, 2, 3, 4, 5, 678)),
          compact: bytes(3, 100),
          enhanced: bytes(4, 5000),
        });
        expect(await store.put(replacement, 1)).toBe(2);
        expect(await store.get(bcid)).toEqual({ ...replacement, version: 2 });
        expect(await store.setTags(bcid, ["x"])).toBe(true);
        expect(await store.get(bcid)).toEqual({ ...replacement, tags: ["x"], version: 3 });
        expect(await store.setTags(bcid, [])).toBe(true);
        expect(await store.get(bcid)).toMatchObject({ tags: [], version: 4 });
      });

      it("aborts a put with a stale expected version and changes nothing", async () => {
        const bcid = { storage: freshStorage(), partition: 1, classId: 5n };
        await store.put(templateWrite(bcid), 0);
        await store.put(templateWrite(bcid, { tags: ["second"] }), 1);
        const before = await store.get(bcid);
        const revisionBefore = (await store.partitionChanges(bcid.storage, 1, 0)).revision;

        const stale = templateWrite(bcid, { tags: ["stale"], compact: bytes(9, 10) });
        for (const expectedVersion of [1, 3, 0]) {
          const error = await rejection(store.put(stale, expectedVersion));
          expect(error.kind).toBe("aborted");
          expect(error.message).toContain(`${bcid.storage}/1/5`);
        }
        expect(await store.get(bcid)).toEqual(before);
        expect((await store.partitionChanges(bcid.storage, 1, 0)).revision).toBe(revisionBefore);
      });

      it("aborts a put that expects a version of a template that does not exist", async () => {
        const bcid = { storage: freshStorage(), partition: 1, classId: 6n };
        expect((await rejection(store.put(templateWrite(bcid), 1))).kind).toBe("aborted");
        expect(await store.get(bcid)).toBe(undefined);
        expect(await store.partitionChanges(bcid.storage, 1, 0)).toEqual({
          revision: 0,
          upserts: [],
          deletes: [],
          full: true,
        });
      });
    });

    describe("setTags and delete", () => {
      it("return false for a missing template and leave the partition revision alone", async () => {
        const storage = freshStorage();
        await store.put(templateWrite({ storage, partition: 1, classId: 1n }), 0);
        const missing = { storage, partition: 1, classId: 2n };
        expect(await store.setTags(missing, ["a"])).toBe(false);
        expect(await store.delete(missing)).toBe(false);
        expect(await store.get(missing)).toBe(undefined);
        expect((await store.partitionChanges(storage, 1, 0)).revision).toBe(1);
      });

      it("delete removes the template; it can then be created again at version 1", async () => {
        const bcid = { storage: freshStorage(), partition: 3, classId: MAX_CLASS_ID };
        await store.put(templateWrite(bcid), 0);
        await store.setTags(bcid, ["t"]);
        expect(await store.delete(bcid)).toBe(true);
        expect(await store.get(bcid)).toBe(undefined);
        expect(await store.delete(bcid)).toBe(false);
        expect(await store.setTags(bcid, ["t"])).toBe(false);
        expect((await rejection(store.put(templateWrite(bcid), 2))).kind).toBe("aborted");
        expect(await store.put(templateWrite(bcid, { tags: ["again"] }), 0)).toBe(1);
        expect(await store.get(bcid)).toMatchObject({ tags: ["again"], version: 1 });
      });
    });

    describe("validation", () => {
      const good: Bcid = { storage: "s", partition: 1, classId: 1n };
      const badBcids: [string, Bcid][] = [
        ["classId 0", { ...good, classId: 0n }],
        ["negative classId", { ...good, classId: -5n }],
        ["classId 2^63", { ...good, classId: 2n ** 63n }],
        ["number classId", { ...good, classId: 1 as unknown as bigint }],
        ["empty storage", { ...good, storage: "" }],
        ["negative partition", { ...good, partition: -1 }],
        ["fractional partition", { ...good, partition: 1.5 }],
      ];

      it.each(badBcids)("rejects a BCID with %s in every operation", async (_, bcid) => {
        const calls: Promise<unknown>[] = [
          store.get(bcid),
          store.put(templateWrite(bcid), 0),
          store.setTags(bcid, []),
          store.delete(bcid),
        ];
        if (bcid.classId === good.classId) {
          calls.push(store.partitionChanges(bcid.storage, bcid.partition, 0));
        }
        for (const call of calls) {
          expect((await rejection(call)).kind).toBe("invalid_argument");
        }
      });

      it("rejects invalid template fields, expected versions, revisions and tags", async () => {
        const bcid = { storage: freshStorage(), partition: 1, classId: 1n };
        const writes: [TemplateWrite, number][] = [
          [templateWrite(bcid, { featureCount: -1 }), 0],
          [templateWrite(bcid, { thumbnailCount: 1.5 }), 0],
          [templateWrite(bcid, { encoderVersion: 2 ** 31 }), 0],
          [templateWrite(bcid, { createdAt: new Date(Number.NaN) }), 0],
          [templateWrite(bcid, { compact: "abc" as unknown as Uint8Array }), 0],
          [templateWrite(bcid, { tags: ["nul\u0000byte"] }), 0],
          [templateWrite(bcid), -1],
          [templateWrite(bcid), 0.5],
        ];
        for (const [write, expectedVersion] of writes) {
          const error = await rejection(store.put(write, expectedVersion));
          expect(error.kind).toBe("invalid_argument");
          expect(error.field).toBeTruthy();
        }
        expect(await store.get(bcid)).toBe(undefined);
        expect((await rejection(store.setTags(bcid, [7 as unknown as string]))).kind).toBe(
          "invalid_argument",
        );
        expect((await rejection(store.partitionChanges(bcid.storage, 1, -1))).kind).toBe(
          "invalid_argument",
        );
      });
    });

    describe("partitionChanges", () => {
      it("a full reload returns every template of exactly that storage and partition", async () => {
        const storage = freshStorage();
        const other = freshStorage();
        await store.put(templateWrite({ storage, partition: 1, classId: 3n }, { tags: ["c"] }), 0);
        await store.put(templateWrite({ storage, partition: 1, classId: 1n }), 0);
        await store.put(templateWrite({ storage, partition: 1, classId: 2n }), 0);
        await store.put(templateWrite({ storage, partition: 2, classId: 1n }), 0);
        await store.put(templateWrite({ storage, partition: 2, classId: 4n }), 0);
        await store.put(templateWrite({ storage: other, partition: 1, classId: 9n }), 0);

        const changes = await store.partitionChanges(storage, 1, 0);
        expect(changes.full).toBe(true);
        expect(changes.revision).toBe(3);
        expect(changes.deletes).toEqual([]);
        expect(changes.upserts).toEqual([
          entryOf(templateWrite({ storage, partition: 1, classId: 1n })),
          entryOf(templateWrite({ storage, partition: 1, classId: 2n })),
          entryOf(templateWrite({ storage, partition: 1, classId: 3n }, { tags: ["c"] })),
        ]);
        const second = await store.partitionChanges(storage, 2, 0);
        expect(second.upserts.map((entry) => entry.classId)).toEqual([1n, 4n]);
        expect(second.revision).toBe(2);
        expect((await store.partitionChanges(other, 1, 0)).upserts.map((e) => e.classId)).toEqual([
          9n,
        ]);
      });

      it("an unknown partition is empty at revision 0", async () => {
        expect(await store.partitionChanges(freshStorage(), 1, 0)).toEqual({
          revision: 0,
          upserts: [],
          deletes: [],
          full: true,
        });
      });

      it("returns only what changed after a revision: new, updated, re-tagged and deleted", async () => {
        const storage = freshStorage();
        const bcid = (classId: bigint) => ({ storage, partition: 1, classId });
        for (const classId of [1n, 2n, 3n]) await store.put(templateWrite(bcid(classId)), 0);
        const r0 = (await store.partitionChanges(storage, 1, 0)).revision;
        expect(r0).toBe(3);

        await store.put(templateWrite(bcid(4n)), 0); // r0 + 1
        await store.setTags(bcid(1n), ["retagged"]); // r0 + 2
        await store.delete(bcid(2n)); // r0 + 3
        const updated = templateWrite(bcid(3n), { compact: bytes(77, 32), encoderVersion: 2 });
        await store.put(updated, 1); // r0 + 4
        // Another partition of the same storage moves on its own counter.
        await store.put(templateWrite({ storage, partition: 2, classId: 2n }), 0);

        const changes = await store.partitionChanges(storage, 1, r0);
        expect(changes).toEqual({
          revision: r0 + 4,
          upserts: [
            entryOf(templateWrite(bcid(1n), { tags: ["retagged"] })),
            entryOf(updated),
            entryOf(templateWrite(bcid(4n))),
          ],
          deletes: [2n],
          full: false,
        });
        const later = await store.partitionChanges(storage, 1, r0 + 2);
        expect(later.upserts.map((entry) => entry.classId)).toEqual([3n]);
        expect(later.deletes).toEqual([2n]);
        expect(later.full).toBe(false);
        expect(await store.partitionChanges(storage, 1, r0 + 4)).toEqual({
          revision: r0 + 4,
          upserts: [],
          deletes: [],
          full: false,
        });
      });

      it("a class deleted and created again is an upsert, not a delete", async () => {
        const bcid = { storage: freshStorage(), partition: 1, classId: 8n };
        await store.put(templateWrite(bcid), 0);
        const r1 = (await store.partitionChanges(bcid.storage, 1, 0)).revision;
        await store.delete(bcid);
        const r2 = (await store.partitionChanges(bcid.storage, 1, 0)).revision;
        expect((await store.partitionChanges(bcid.storage, 1, r1)).deletes).toEqual([8n]);
        await store.put(templateWrite(bcid, { tags: ["back"] }), 0);
        for (const since of [r1, r2]) {
          const changes = await store.partitionChanges(bcid.storage, 1, since);
          expect(changes.deletes).toEqual([]);
          expect(changes.upserts).toEqual([entryOf(templateWrite(bcid, { tags: ["back"] }))]);
        }
      });

      it("sends a reader that is ahead of the store (other database) a full reload", async () => {
        const bcid = { storage: freshStorage(), partition: 1, classId: 1n };
        await store.put(templateWrite(bcid), 0);
        const changes = await store.partitionChanges(bcid.storage, 1, 50);
        expect(changes.full).toBe(true);
        expect(changes.revision).toBe(1);
        expect(changes.upserts.map((entry) => entry.classId)).toEqual([1n]);
      });

      it("after tombstones are pruned, only readers from before the pruning get a full reload", async () => {
        const storage = freshStorage();
        const bcid = (classId: bigint) => ({ storage, partition: 1, classId });
        for (const classId of [1n, 2n, 3n]) await store.put(templateWrite(bcid(classId)), 0);
        await store.delete(bcid(1n)); // 4
        await store.delete(bcid(2n)); // 5
        await store.setTags(bcid(3n), ["x"]); // 6
        expect(await store.pruneTombstones(storage, 1, 4)).toBe(1);

        const old = await store.partitionChanges(storage, 1, 3);
        expect(old.full).toBe(true);
        expect(old.upserts.map((entry) => entry.classId)).toEqual([3n]);
        expect(old.deletes).toEqual([]);
        const recent = await store.partitionChanges(storage, 1, 4);
        expect(recent).toMatchObject({ full: false, revision: 6, deletes: [2n] });
        expect(recent.upserts.map((entry) => entry.classId)).toEqual([3n]);

        // Pruning beyond the current revision cannot hide later deletes.
        expect(await store.pruneTombstones(storage, 1, 1000)).toBe(1);
        await store.delete(bcid(3n)); // 7
        expect(await store.partitionChanges(storage, 1, 6)).toEqual({
          revision: 7,
          upserts: [],
          deletes: [3n],
          full: false,
        });
      });
    });

    describe("compactPage and compactTemplates", () => {
      it("pages through exactly one partition in class-id order, with the partition's revision", async () => {
        const storage = freshStorage();
        const classIds = [MAX_CLASS_ID, 7n, 2n ** 53n + 1n, 1n, 40n];
        for (const classId of classIds) {
          await store.put(
            templateWrite({ storage, partition: 1, classId }, { tags: [`t${classId}`] }),
            0,
          );
        }
        await store.put(templateWrite({ storage, partition: 2, classId: 3n }), 0);
        await store.put(templateWrite({ storage: freshStorage(), partition: 1, classId: 5n }), 0);
        const sorted = [...classIds].sort((a, b) => (a < b ? -1 : 1));

        const pages: bigint[][] = [];
        let after = 0n;
        for (;;) {
          const page = await store.compactPage(storage, 1, after, 2);
          expect(page.revision).toBe(5);
          pages.push(page.entries.map((e) => e.classId));
          const last = page.entries.at(-1);
          if (last === undefined) break;
          after = last.classId;
        }
        expect(pages).toEqual([sorted.slice(0, 2), sorted.slice(2, 4), sorted.slice(4), []]);
        const first = await store.compactPage(storage, 1, 0n, 10);
        expect(first.entries).toEqual(
          sorted.map((classId) =>
            entryOf(templateWrite({ storage, partition: 1, classId }, { tags: [`t${classId}`] })),
          ),
        );
        expect(await store.compactPage(freshStorage(), 1, 0n, 10)).toEqual({
          revision: 0,
          entries: [],
        });
        // An upper bound, inclusive: one range of class ids.
        const ids = async (after: bigint, limit: number, through: bigint) =>
          (await second.compactPage(storage, 1, after, limit, through)).entries.map(
            (e) => e.classId,
          );
        expect(await ids(1n, 10, 40n)).toEqual([7n, 40n]);
        expect(await ids(0n, 10, 39n)).toEqual([1n, 7n]);
        expect(await ids(0n, 1, 40n)).toEqual([1n]);
        expect(await ids(7n, 10, 7n)).toEqual([]);
        expect(await ids(40n, 10, MAX_CLASS_ID)).toEqual(sorted.slice(3));
      });

      it("a page sees writes made after an earlier page, and its revision says so", async () => {
        const storage = freshStorage();
        for (const classId of [1n, 2n, 3n]) {
          await store.put(templateWrite({ storage, partition: 1, classId }), 0);
        }
        const first = await store.compactPage(storage, 1, 0n, 1);
        await second.delete({ storage, partition: 1, classId: 3n });
        await second.put(
          templateWrite({ storage, partition: 1, classId: 2n }, { tags: ["new"] }),
          1,
        );
        const next = await store.compactPage(storage, 1, 1n, 10);
        expect(first.revision).toBe(3);
        expect(next.revision).toBe(5);
        expect(next.entries.map((e) => [e.classId, e.tags])).toEqual([[2n, ["new"]]]);
        // Catching up from the first page's revision tells the reader about the delete.
        const changes = await store.partitionChanges(storage, 1, first.revision);
        expect(changes.deletes).toEqual([3n]);
        expect(changes.upserts.map((e) => e.classId)).toEqual([2n]);
      });

      it("reads the compact templates of the classes asked for that exist, once each", async () => {
        const storage = freshStorage();
        const writes = [1n, 9n, MAX_CLASS_ID, MAX_CLASS_ID - 1n].map((classId) =>
          templateWrite({ storage, partition: 4, classId }, { tags: [String(classId)] }),
        );
        for (const write of writes) await store.put(write, 0);
        await store.put(templateWrite({ storage, partition: 5, classId: 2n }), 0);
        const found = await second.compactTemplates(storage, 4, [
          MAX_CLASS_ID,
          2n,
          9n,
          MAX_CLASS_ID,
          1n,
          MAX_CLASS_ID - 1n,
        ]);
        expect(found.map(describeEntry).sort()).toEqual(
          writes.map(entryOf).map(describeEntry).sort(),
        );
        expect(found.map((e) => e.classId).sort()).toEqual(
          [1n, 9n, MAX_CLASS_ID - 1n, MAX_CLASS_ID].sort(),
        );
        expect(await store.compactTemplates(storage, 4, [])).toEqual([]);
        expect(await store.compactTemplates(storage, 6, [1n])).toEqual([]);
        const many = Array.from({ length: 10_000 }, (_, i) => BigInt(i + 1));
        expect(
          (await store.compactTemplates(storage, 4, many)).map((e) => e.classId).sort(),
        ).toEqual([1n, 9n]);
      });

      it("rejects bad cursors, limits and class ids", async () => {
        const storage = freshStorage();
        for (const [after, limit] of [
          [-1n, 10],
          [2n ** 63n, 10],
          [0n, 0],
          [0n, 10_001],
          [0n, 1.5],
        ] as const) {
          expect((await rejection(store.compactPage(storage, 1, after, limit))).kind).toBe(
            "invalid_argument",
          );
        }
        for (const ids of [[0n], [2n ** 63n], [1 as unknown as bigint], Array(10_001).fill(1n)]) {
          expect((await rejection(store.compactTemplates(storage, 1, ids))).kind).toBe(
            "invalid_argument",
          );
        }
        expect((await rejection(store.compactPage("", 1, 0n, 1))).kind).toBe("invalid_argument");
        for (const through of [0n, 2n ** 63n, 5 as unknown as bigint]) {
          expect((await rejection(store.compactPage(storage, 1, 0n, 1, through))).kind).toBe(
            "invalid_argument",
          );
        }
      });
    });

    describe("search snapshots", () => {
      /** Chunk `n` of a snapshot: random bytes for the classes [first, last]. */
      const chunk = (n: number, first: bigint, last: bigint, size = 1000) => ({
        bytes: bytes(n, size),
        firstClassId: first,
        lastClassId: last,
      });

      /** The id of the partition's snapshot (as `instance` reads it); fails when there is none. */
      const snapshotId = async (instance: TemplateStore, storage: string, partition = 1) => {
        const info = await instance.searchSnapshot(storage, partition);
        if (info === undefined) throw new Error("no snapshot");
        return info.id;
      };

      it("stores, replaces and reads back a snapshot chunk by chunk", async () => {
        const storage = freshStorage();
        for (const classId of [1n, 2n]) {
          await store.put(templateWrite({ storage, partition: 1, classId }), 0);
        }
        expect(await store.searchSnapshot(storage, 1)).toBe(undefined);
        // More chunks than go in one transaction on SQLite.
        const chunks = [
          chunk(1, 1n, 1n),
          ...Array.from({ length: 20 }, (_, i) => chunk(10 + i, BigInt(2 + i), BigInt(2 + i))),
          chunk(2, 22n, MAX_CLASS_ID, 300_000),
        ];
        expect(
          await store.putSearchSnapshot(storage, 1, { revision: 2, format: "v1", chunks }),
        ).toBe(true);
        const first = await second.searchSnapshot(storage, 1);
        expect(first).toEqual({ id: expect.any(Number), revision: 2, format: "v1", chunks: 22 });
        const id = first?.id as number;
        for (const [i, c] of chunks.entries()) {
          expect(await second.searchSnapshotChunk(storage, 1, id, i)).toEqual(c);
        }
        expect(await second.searchSnapshotChunk(storage, 1, id, 22)).toBe(undefined);

        // Writes other than deletes leave an older snapshot valid; a newer one replaces it.
        await store.setTags({ storage, partition: 1, classId: 1n }, ["x"]);
        await store.put(templateWrite({ storage, partition: 1, classId: 3n }), 0);
        expect(await store.searchSnapshot(storage, 1)).toMatchObject({ id, revision: 2 });
        const newer = { revision: 4, format: "v1", chunks: [chunk(3, 1n, 3n)] };
        expect(await store.putSearchSnapshot(storage, 1, newer)).toBe(true);
        const newerId = await snapshotId(store, storage);
        expect(newerId).not.toBe(id);
        expect(await store.searchSnapshot(storage, 1)).toEqual({
          id: newerId,
          revision: 4,
          format: "v1",
          chunks: 1,
        });
        expect(await store.searchSnapshotChunk(storage, 1, id, 0)).toBe(undefined);
        expect(await store.searchSnapshotChunk(storage, 1, newerId, 0)).toEqual(newer.chunks[0]);
        // A second one at the same revision replaces it too: a reader of the first notices.
        const again = { revision: 4, format: "v1", chunks: [chunk(5, 1n, 3n)] };
        expect(await second.putSearchSnapshot(storage, 1, again)).toBe(true);
        expect(await store.searchSnapshotChunk(storage, 1, newerId, 0)).toBe(undefined);
        const againId = await snapshotId(store, storage);
        expect(await store.searchSnapshotChunk(storage, 1, againId, 0)).toEqual(again.chunks[0]);
        // Other partitions have none.
        expect(await store.searchSnapshot(storage, 2)).toBe(undefined);
      });

      it("a delete erases the chunk that holds its class, and the others stay", async () => {
        const storage = freshStorage();
        for (const classId of [1n, 2n, 5n, 9n]) {
          await store.put(templateWrite({ storage, partition: 1, classId }), 0);
        }
        await store.put(templateWrite({ storage, partition: 2, classId: 5n }), 0);
        const chunks = [chunk(1, 1n, 2n), chunk(2, 5n, 5n), chunk(3, 9n, 9n)];
        expect(
          await store.putSearchSnapshot(storage, 1, { revision: 4, format: "v1", chunks }),
        ).toBe(true);
        const other = { revision: 1, format: "v1", chunks: [chunk(4, 5n, 5n)] };
        expect(await store.putSearchSnapshot(storage, 2, other)).toBe(true);
        const id = await snapshotId(store, storage);
        const otherId = await snapshotId(store, storage, 2);
        // Through another instance: class 5 of partition 1 only.
        expect(await second.delete({ storage, partition: 1, classId: 5n })).toBe(true);
        expect(await store.searchSnapshot(storage, 1)).toMatchObject({
          id,
          revision: 4,
          chunks: 3,
        });
        expect(await store.searchSnapshotChunk(storage, 1, id, 1)).toEqual({
          firstClassId: 5n,
          lastClassId: 5n,
        });
        expect(await store.searchSnapshotChunk(storage, 1, id, 0)).toEqual(chunks[0]);
        expect(await store.searchSnapshotChunk(storage, 1, id, 2)).toEqual(chunks[2]);
        expect(await store.searchSnapshotChunk(storage, 2, otherId, 0)).toEqual(other.chunks[0]);
        // A class in no chunk's range (written after the snapshot) erases nothing.
        await store.put(templateWrite({ storage, partition: 1, classId: 3n }), 0);
        expect(await store.delete({ storage, partition: 1, classId: 3n })).toBe(true);
        expect(await store.searchSnapshotChunk(storage, 1, id, 0)).toEqual(chunks[0]);
        expect(await store.searchSnapshotChunk(storage, 1, id, 2)).toEqual(chunks[2]);
        // A delete of a class that does not exist erases nothing either.
        expect(await store.delete({ storage, partition: 1, classId: 2n ** 40n })).toBe(false);
        expect(await store.delete({ storage, partition: 1, classId: 9n })).toBe(true);
        expect(await store.searchSnapshotChunk(storage, 1, id, 2)).toEqual({
          firstClassId: 9n,
          lastClassId: 9n,
        });
      });

      it("a delete racing a snapshot write leaves no snapshot, or one whose chunk it erased", async () => {
        for (let round = 0; round < 8; round++) {
          const storage = freshStorage();
          const ids = Array.from({ length: 12 }, (_, i) => BigInt(i + 1));
          for (const classId of ids) {
            await store.put(templateWrite({ storage, partition: 1, classId }), 0);
          }
          // Class 10's chunk goes in after the first few on SQLite: a delete between them must
          // still keep its codes out.
          const chunks = ids.map((id) => chunk(round * 20 + Number(id), id, id, 20_000));
          const snapshot = { revision: 12, format: "v1", chunks };
          // Two instances (two sessions on PostgreSQL), started in either order.
          const put = () => store.putSearchSnapshot(storage, 1, snapshot);
          const remove = () => second.delete({ storage, partition: 1, classId: 10n });
          let pending: [Promise<boolean>, Promise<boolean>];
          if (round % 2 === 0) {
            const putting = put();
            pending = [putting, remove()];
          } else {
            const removing = remove();
            pending = [put(), removing];
          }
          const [stored, deleted] = await Promise.all(pending);
          expect(deleted).toBe(true);
          const info = await store.searchSnapshot(storage, 1);
          expect(info !== undefined).toBe(stored);
          if (info) {
            expect(await store.searchSnapshotChunk(storage, 1, info.id, 9)).toEqual({
              firstClassId: 10n,
              lastClassId: 10n,
            });
          }
        }
      });

      it("never takes a snapshot made before a delete", async () => {
        const storage = freshStorage();
        for (const classId of [1n, 2n, 3n]) {
          await store.put(templateWrite({ storage, partition: 1, classId }), 0);
        }
        const at3 = { revision: 3, format: "v1", chunks: [chunk(4, 1n, 3n)] };
        expect(await second.delete({ storage, partition: 1, classId: 2n })).toBe(true);
        // A snapshot made before that delete is refused; one made after it is taken.
        expect(await store.putSearchSnapshot(storage, 1, at3)).toBe(false);
        expect(await store.searchSnapshot(storage, 1)).toBe(undefined);
        expect(await store.putSearchSnapshot(storage, 1, { ...at3, revision: 4 })).toBe(true);
        // A revision ahead of the partition, or an empty partition, is refused.
        expect(await store.putSearchSnapshot(storage, 1, { ...at3, revision: 5 })).toBe(false);
        expect(await store.putSearchSnapshot(freshStorage(), 1, at3)).toBe(false);
        // Pruned tombstones cannot tell what was deleted before them.
        await store.delete({ storage, partition: 1, classId: 3n });
        await store.put(templateWrite({ storage, partition: 1, classId: 9n }), 0);
        await store.pruneTombstones(storage, 1, 6);
        expect(await store.putSearchSnapshot(storage, 1, { ...at3, revision: 5 })).toBe(false);
        expect(await store.putSearchSnapshot(storage, 1, { ...at3, revision: 6 })).toBe(true);
        expect(await store.searchSnapshot(storage, 1)).toMatchObject({ revision: 6 });
      });

      it("re-seals a chunk in place, never one a delete cleared", async () => {
        const storage = freshStorage();
        for (const classId of [1n, 2n]) {
          await store.put(templateWrite({ storage, partition: 1, classId }), 0);
        }
        const chunks = [chunk(1, 1n, 1n), chunk(2, 2n, 2n)];
        await store.putSearchSnapshot(storage, 1, { revision: 2, format: "v1", chunks });
        const id = await snapshotId(store, storage);
        const resealed = bytes(7, 500);
        expect(await second.resealSearchSnapshotChunk(storage, 1, id, 0, resealed)).toBe(true);
        expect(await store.searchSnapshotChunk(storage, 1, id, 0)).toEqual({
          ...chunks[0],
          bytes: resealed,
        });
        await store.delete({ storage, partition: 1, classId: 2n });
        expect(await store.resealSearchSnapshotChunk(storage, 1, id, 1, resealed)).toBe(false);
        expect((await store.searchSnapshotChunk(storage, 1, id, 1))?.bytes).toBe(undefined);
        // Another snapshot, or a chunk that does not exist: nothing to re-seal.
        expect(await store.resealSearchSnapshotChunk(storage, 1, id + 1, 0, resealed)).toBe(false);
        expect(await store.resealSearchSnapshotChunk(storage, 1, id, 2, resealed)).toBe(false);
      });

      it("rejects bad snapshots and chunk addresses", async () => {
        const storage = freshStorage();
        await store.put(templateWrite({ storage, partition: 1, classId: 1n }), 0);
        const good = { revision: 1, format: "v1", chunks: [chunk(1, 1n, 1n)] };
        for (const bad of [
          { ...good, revision: -1 },
          { ...good, format: "" },
          { ...good, format: "with space" },
          { ...good, chunks: [] },
          { ...good, chunks: ["x" as unknown as SnapshotChunkWrite] },
          { ...good, chunks: [{ ...chunk(1, 1n, 1n), bytes: "x" as unknown as Uint8Array }] },
          { ...good, chunks: [chunk(1, 0n, 1n)] },
          { ...good, chunks: [chunk(1, 2n, 1n)] },
          { ...good, chunks: [chunk(1, 1n, 2n ** 63n)] },
          { ...good, chunks: [chunk(1, 1n, 5n), chunk(2, 5n, 9n)] },
          { ...good, chunks: [chunk(1, 6n, 9n), chunk(2, 1n, 5n)] },
          { ...good, chunks: [{ ...chunk(1, 1n, 1n), firstClassId: 1 as unknown as bigint }] },
        ]) {
          expect((await rejection(store.putSearchSnapshot(storage, 1, bad))).kind).toBe(
            "invalid_argument",
          );
        }
        for (const [id, at] of [
          [-1, 0],
          [1.5, 0],
          [2 ** 53, 0],
          [1, -1],
          [1, 1.5],
          [1, 65_536],
        ] as const) {
          expect((await rejection(store.searchSnapshotChunk(storage, 1, id, at))).kind).toBe(
            "invalid_argument",
          );
          expect(
            (await rejection(store.resealSearchSnapshotChunk(storage, 1, id, at, bytes(1, 9))))
              .kind,
          ).toBe("invalid_argument");
        }
        expect(
          (await rejection(store.resealSearchSnapshotChunk(storage, 1, 1, 0, "x" as never))).kind,
        ).toBe("invalid_argument");
      });
    });

    describe("concurrency", () => {
      it("parallel read-merge-retry writers of one class all land", async () => {
        const bcid = { storage: freshStorage(), partition: 1, classId: MAX_CLASS_ID };
        await expectAllWritersLand([store], bcid, 8);
      });

      it("writers on two store instances of one database all land", async () => {
        const bcid = { storage: freshStorage(), partition: 1, classId: 77n };
        await expectAllWritersLand([store, second], bcid, 8);
      });

      it("an incremental reader polling during concurrent writes ends equal to a full reload", async () => {
        const storage = freshStorage();
        const stores = [store, second];
        const replica = new Map<bigint, string>();
        let revision = 0;
        let writing = true;
        let increments = 0;

        const poll = async () => {
          const changes = await store.partitionChanges(storage, 1, revision);
          expect(changes.revision).toBeGreaterThanOrEqual(revision);
          if (changes.full) replica.clear();
          for (const entry of changes.upserts) replica.set(entry.classId, describeEntry(entry));
          for (const classId of changes.deletes) replica.delete(classId);
          revision = changes.revision;
          if (!changes.full && changes.upserts.length + changes.deletes.length > 0) increments++;
        };
        const reader = (async () => {
          while (writing) {
            await poll();
            await new Promise((resolve) => setImmediate(resolve));
          }
        })();

        const writers = Array.from({ length: 6 }, async (_, writer) => {
          const random = mulberry32(writer + 1);
          for (let step = 0; step < 25; step++) {
            const target = stores[step % 2] as TemplateStore;
            const bcid = { storage, partition: 1, classId: BigInt(1 + Math.floor(random() * 8)) };
            const dice = random();
            if (dice < 0.2) await target.delete(bcid);
            else if (dice < 0.4) await target.setTags(bcid, [`w${writer}s${step}`]);
            else
              await readMergeRetry(
                target,
                bcid,
                `w${writer}s${step}`,
                bytes(writer * 31 + step, 24),
              );
            // Yield to the event loop so the reader polls between writes, also for a backend
            // whose calls complete synchronously.
            await new Promise((resolve) => setImmediate(resolve));
          }
        });
        await Promise.all(writers);
        writing = false;
        await reader;
        await poll();

        const full = await store.partitionChanges(storage, 1, 0);
        expect(full.revision).toBe(revision);
        expect(new Map(full.upserts.map((entry) => [entry.classId, describeEntry(entry)]))).toEqual(
          replica,
        );
        // The reader really followed the writes step by step.
        expect(increments).toBeGreaterThan(5);
      });
    });

    describe("jobs", () => {
      const job = (overrides: Partial<JobRecord> & Pick<JobRecord, "jobId">): JobRecord => ({
        clientId: "client-a",
        method: "Enroll",
        receivedAt: new Date(Date.UTC(2099, 5, 1, 12, 0, 0, 250)),
        durationMs: 12.5,
        outcome: 0,
        imageCount: 2,
        ...overrides,
      });

      it("records jobs and lists them newest first, by client, limited", async () => {
        const t = (seconds: number) => new Date(Date.UTC(2099, 5, 1, 12, 0, seconds));
        const jobs = [
          job({ jobId: "job-1", clientId: "jobs-a", receivedAt: t(1), referenceNumber: "ref-1" }),
          job({ jobId: "job-2", clientId: "jobs-b", receivedAt: t(3), performedAction: "NONE" }),
          job({
            jobId: "job-3",
            clientId: "jobs-a",
            receivedAt: t(2),
            outcome: 5,
            method: "Verify",
          }),
          // Same time as job-3: recorded later, so listed before it.
          job({ jobId: "job-4", clientId: "jobs-a", receivedAt: t(2), imageCount: 0 }),
        ];
        for (const record of jobs) await store.recordJob(record);

        expect(await store.listJobs({ clientId: "jobs-a" })).toEqual([jobs[3], jobs[2], jobs[0]]);
        expect(await store.listJobs({ clientId: "jobs-a", limit: 1 })).toEqual([jobs[3]]);
        expect(await store.listJobs({ clientId: "nobody" })).toEqual([]);
        const all = await second.listJobs({ limit: 10_000 });
        expect(all.slice(0, 4).map((record) => record.jobId)).toEqual([
          "job-2",
          "job-4",
          "job-3",
          "job-1",
        ]);
        const times = all.map((record) => record.receivedAt.getTime());
        expect(times).toEqual([...times].sort((a, b) => b - a));
      });

      it("keeps absent optional fields absent", async () => {
        await store.recordJob(job({ jobId: "job-plain", clientId: "jobs-plain" }));
        const [listed] = await store.listJobs({ clientId: "jobs-plain" });
        expect(listed).toEqual(job({ jobId: "job-plain", clientId: "jobs-plain" }));
        expect(listed !== undefined && "referenceNumber" in listed).toBe(false);
        expect(listed !== undefined && "performedAction" in listed).toBe(false);
      });

      it("records calls that failed authentication, with an empty client id", async () => {
        await store.recordJob(job({ jobId: "job-anonymous", clientId: "" }));
        const [listed] = await store.listJobs({ clientId: "" });
        expect(listed?.jobId).toBe("job-anonymous");
      });

      it("refuses a job id twice and invalid jobs or limits", async () => {
        await store.recordJob(job({ jobId: "job-twice" }));
        const error = await rejection(store.recordJob(job({ jobId: "job-twice" })));
        expect(error.kind).toBe("already_exists");
        expect((await rejection(store.recordJob(job({ jobId: "" })))).kind).toBe(
          "invalid_argument",
        );
        expect((await rejection(store.recordJob(job({ jobId: "j", durationMs: -1 })))).kind).toBe(
          "invalid_argument",
        );
        for (const limit of [0, 10_001, 2.5]) {
          expect((await rejection(store.listJobs({ limit }))).kind).toBe("invalid_argument");
        }
      });

      it("queries by client, time, reference, method and outcome, page by page", async () => {
        const t = (minute: number) => new Date(Date.UTC(2098, 0, 1, 0, minute));
        const clients = ["query-a", "query-b"];
        for (let i = 0; i < 7; i++) {
          await store.recordJob(
            job({
              jobId: `query-${i}`,
              clientId: clients[i % 2] as string,
              receivedAt: t(i < 4 ? 1 : i), // four at the same time: order by recording
              method: i % 3 === 0 ? "Search" : "Verify",
              outcome: i === 5 ? 16 : 0,
              referenceNumber: `ref-${i}`,
            }),
          );
        }
        const ids = (page: { jobs: JobRecord[] }) => page.jobs.map((j) => j.jobId);
        const seen: string[] = [];
        let after: string | undefined;
        do {
          const page = await second.queryJobs({
            clientIds: clients,
            limit: 3,
            ...(after ? { after } : {}),
          });
          seen.push(...ids(page));
          after = page.next;
        } while (after);
        expect(seen).toEqual([
          "query-6",
          "query-5",
          "query-4",
          "query-3",
          "query-2",
          "query-1",
          "query-0",
        ]);
        expect(ids(await store.queryJobs({ clientIds: ["query-b"], limit: 10 }))).toEqual([
          "query-5",
          "query-3",
          "query-1",
        ]);
        expect(
          ids(await store.queryJobs({ clientIds: clients, from: t(4), to: t(6), limit: 10 })),
        ).toEqual(["query-5", "query-4"]);
        expect(
          ids(await store.queryJobs({ clientIds: clients, method: "Search", limit: 10 })),
        ).toEqual(["query-6", "query-3", "query-0"]);
        expect(ids(await store.queryJobs({ clientIds: clients, outcome: 16, limit: 10 }))).toEqual([
          "query-5",
        ]);
        expect(ids(await store.queryJobs({ referenceNumber: "ref-2", limit: 10 }))).toEqual([
          "query-2",
        ]);
        expect(ids(await store.queryJobs({ clientIds: [], limit: 10 }))).toEqual([]);
        expect((await rejection(store.queryJobs({ limit: 10, after: "nope" }))).field).toBe(
          "after",
        );
      });

      it("prunes records received before a date, and only those", async () => {
        // Times long before any other test's records: this file shares one database.
        const at = (year: number) => new Date(Date.UTC(year, 0, 1));
        const old = ["prune-1980", "prune-1981", "prune-1985"];
        for (const jobId of old) {
          const year = Number(jobId.slice(-4));
          await store.recordJob(job({ jobId, clientId: "jobs-prune", receivedAt: at(year) }));
        }
        await store.recordJob(job({ jobId: "prune-recent", clientId: "jobs-prune" }));

        expect(await second.pruneJobs(at(1983))).toBe(2);
        const left = (await store.listJobs({ clientId: "jobs-prune" })).map((j) => j.jobId);
        expect(left).toEqual(["prune-recent", "prune-1985"]);
        expect(await store.pruneJobs(at(1983))).toBe(0);
        expect(await store.pruneJobs(at(1986))).toBe(1);
        expect((await rejection(store.pruneJobs(new Date(Number.NaN)))).field).toBe("olderThan");
      });
    });

    describe("catalog", () => {
      it("lists partitions with counts and pages of template metadata, by tag, with totals", async () => {
        const storage = freshStorage();
        for (const classId of [5n, 1n, 3n, 2n]) {
          const tags = classId % 2n === 1n ? ["odd"] : ["even"];
          await store.put(templateWrite({ storage, partition: 4, classId }, { tags }), 0);
        }
        await store.put(templateWrite({ storage, partition: 7, classId: 1n }), 0);
        const partitions = (await second.listPartitions()).filter((p) => p.storage === storage);
        expect(partitions).toEqual([
          { storage, partition: 4, templates: 4, featureVectors: 12, thumbnails: 4, revision: 4 },
          { storage, partition: 7, templates: 1, featureVectors: 3, thumbnails: 1, revision: 1 },
        ]);
        const first = await second.listTemplates(storage, 4, { afterClassId: 0n, limit: 2 });
        expect(first.total).toBe(4);
        expect(first.templates.map((t) => t.bcid.classId)).toEqual([1n, 2n]);
        const summary = first.templates[0];
        const full = await store.get({ storage, partition: 4, classId: 1n });
        expect(summary?.tags).toEqual(["odd"]);
        expect(summary?.featureCount).toBe(full?.featureCount);
        expect(summary?.enhancedHeader).toEqual(
          full?.enhanced.subarray(0, summary?.enhancedHeader.length),
        );
        expect(summary && "compact" in summary).toBe(false);
        const odd = await second.listTemplates(storage, 4, {
          afterClassId: 1n,
          limit: 10,
          tag: "odd",
        });
        expect(odd.total).toBe(3); // 1, 3 and 5: the total ignores the cursor
        expect(odd.templates.map((t) => t.bcid.classId)).toEqual([3n, 5n]);
        expect(
          (await rejection(store.listTemplates(storage, 4, { afterClassId: 0n, limit: 1001 })))
            .field,
        ).toBe("limit");
      });
    });

    describe("lifecycle", () => {
      it("opening another instance runs the migrations again as a no-op", async () => {
        const bcid = { storage: freshStorage(), partition: 1, classId: 1n };
        await store.put(templateWrite(bcid), 0);
        const versions = await store.migrationVersions();
        expect(versions.length).toBeGreaterThan(0);
        const again = await harness.open();
        try {
          expect(await again.migrationVersions()).toEqual(versions);
          expect(await again.get(bcid)).toEqual({ ...templateWrite(bcid), version: 1 });
        } finally {
          await again.close();
        }
      });

      it("fails calls after close with unavailable; close is idempotent", async () => {
        const closing = await harness.open();
        await closing.close();
        await closing.close();
        const error = await rejection(closing.get({ storage: "s", partition: 1, classId: 1n }));
        expect(error.kind).toBe("unavailable");
      });
    });
  });
}

/** A template write with distinctive, deterministic contents; `overrides` replace fields. */
export function templateWrite(bcid: Bcid, overrides: Partial<TemplateWrite> = {}): TemplateWrite {
  // BigInt() so that deliberately invalid (number) class ids still build a write.
  const seed = Number(BigInt(bcid.classId) % 251n) + bcid.partition;
  return {
    bcid: { ...bcid },
    encoderVersion: 1,
    tags: ["tag-1", "tag-2"],
    createdAt: new Date(Date.UTC(2030, 0, 1, 0, 0, 0, 123)),
    enrolledAt: new Date(Date.UTC(2030, 0, 1, 0, 0, 1, 456)),
    featureCount: 3,
    thumbnailCount: 1,
    compact: bytes(seed, 64),
    enhanced: bytes(seed + 1, 2048),
    ...overrides,
  };
}

/** `length` bytes of a pattern that depends on `seed`. */
export function bytes(seed: number, length: number): Uint8Array {
  const random = mulberry32(seed + 1);
  return Uint8Array.from({ length }, () => Math.floor(random() * 256));
}

/** Gets, adds one tag, puts with the version read; retries on `aborted`. Returns the attempts. */
export async function readMergeRetry(
  store: TemplateStore,
  bcid: Bcid,
  tag: string,
  compact?: Uint8Array,
): Promise<number> {
  for (let attempt = 1; attempt <= 1000; attempt++) {
    const current = await store.get(bcid);
    const base: TemplateWrite =
      current === undefined ? templateWrite(bcid, { tags: [] }) : withoutVersion(current);
    const write = {
      ...base,
      tags: [...base.tags, tag],
      ...(compact === undefined ? {} : { compact }),
    };
    try {
      await store.put(write, current?.version ?? 0);
      return attempt;
    } catch (err) {
      if (!isFacevaultError(err, "aborted")) throw err;
    }
  }
  throw new Error("read-merge-retry did not land in 1000 attempts");
}

async function expectAllWritersLand(stores: TemplateStore[], bcid: Bcid, writers: number) {
  const tags = Array.from({ length: writers }, (_, i) => `writer-${i}`);
  const attempts = await Promise.all(
    tags.map((tag, i) => readMergeRetry(stores[i % stores.length] as TemplateStore, bcid, tag)),
  );
  const stored = await (stores[0] as TemplateStore).get(bcid);
  expect([...(stored?.tags ?? [])].sort()).toEqual([...tags].sort());
  expect(stored?.version).toBe(writers);
  // Conflicts really happened, so the retry path was exercised.
  expect(attempts.reduce((sum, n) => sum + n, 0)).toBeGreaterThan(writers);
}

function withoutVersion(template: StoredTemplate): TemplateWrite {
  const { version: _, ...write } = template;
  return write;
}

function entryOf(write: TemplateWrite): CompactEntry {
  return {
    classId: write.bcid.classId,
    encoderVersion: write.encoderVersion,
    tags: write.tags,
    compact: write.compact,
  };
}

function describeEntry(entry: CompactEntry): string {
  return `${entry.encoderVersion}|${entry.tags.join(",")}|${Buffer.from(entry.compact).toString("hex")}`;
}

/** Awaits a promise that must reject with a FacevaultError, and returns the error. */
export async function rejection(promise: Promise<unknown>): Promise<FacevaultError> {
  try {
    await promise;
  } catch (err) {
    if (isFacevaultError(err)) return err;
    throw err;
  }
  throw new Error("expected a FacevaultError, but the call succeeded");
}
