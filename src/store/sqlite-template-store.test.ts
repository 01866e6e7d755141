import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { migrateSqlite, SQLITE_MIGRATIONS } from "./sqlite-migrations.js";
import { createSqliteTemplateStore } from "./sqlite-template-store.js";
import {
  bytes,
  describeTemplateStoreContract,
  rejection,
  templateWrite,
} from "./template-store.contract.js";

const dir = mkdtempSync(join(tmpdir(), "facevault-sqlite-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const freshPath = () => join(dir, `store-${++files}.db`);

const contractPath = freshPath();
describeTemplateStoreContract("sqlite", {
  open: () => createSqliteTemplateStore({ path: contractPath }),
});

/** The database file and its WAL, as they are on disk now. */
function fileBytes(path: string): Buffer {
  const wal = `${path}-wal`;
  return Buffer.concat([readFileSync(path), existsSync(wal) ? readFileSync(wal) : Buffer.alloc(0)]);
}

function contains(haystack: Buffer, needle: Uint8Array): boolean {
  return haystack.indexOf(Buffer.from(needle)) !== -1;
}

describe("sqlite template store", () => {
  it("leaves no byte of a deleted template in the database file or its WAL", async () => {
    const path = freshPath();
    const store = await createSqliteTemplateStore({ path });
    try {
      const bcid = { storage: "main", partition: 1, classId: 31n };
      // Large enough to spill into overflow pages, which are freed separately.
      const compact = bytes(1001, 512);
      const enhanced = bytes(1002, 40_000);
      await store.put(templateWrite({ ...bcid, classId: 30n }), 0);
      await store.put(templateWrite(bcid, { compact, enhanced }), 0);
      await store.put(templateWrite({ ...bcid, classId: 32n }), 0);
      // The search snapshot chunk that holds the class, and one that does not.
      const held = bytes(1003, 30_000);
      const neighbour = bytes(1004, 30_000);
      await store.putSearchSnapshot("main", 1, {
        revision: 3,
        format: "v1",
        chunks: [
          { firstClassId: 30n, lastClassId: 31n, bytes: held },
          { firstClassId: 32n, lastClassId: 32n, bytes: neighbour },
        ],
      });
      const probes = [
        compact.subarray(100, 148),
        enhanced.subarray(0, 48),
        enhanced.subarray(-48),
        held.subarray(0, 48),
        held.subarray(-48),
      ];
      const before = fileBytes(path);
      for (const probe of probes) expect(contains(before, probe)).toBe(true);

      expect(await store.delete(bcid)).toBe(true);

      const after = fileBytes(path);
      for (const probe of probes) expect(contains(after, probe)).toBe(false);
      expect(contains(after, neighbour.subarray(-48))).toBe(true);
      // Neighbours are untouched.
      expect(await store.get({ ...bcid, classId: 30n })).toBeDefined();
      expect(await store.get({ ...bcid, classId: 32n })).toBeDefined();
    } finally {
      await store.close();
    }
  });

  it("overwrites a replaced blob in the database file once the WAL is checkpointed", async () => {
    const path = freshPath();
    const store = await createSqliteTemplateStore({ path });
    try {
      const bcid = { storage: "main", partition: 1, classId: 1n };
      const old = bytes(2001, 20_000);
      await store.put(templateWrite(bcid, { enhanced: old }), 0);
      await store.put(templateWrite(bcid, { enhanced: bytes(2002, 20_000) }), 1);
      const raw = new Database(path);
      raw.pragma("wal_checkpoint(TRUNCATE)");
      raw.close();
      expect(contains(fileBytes(path), old.subarray(5000, 5048))).toBe(false);
    } finally {
      await store.close();
    }
  });

  it("upgrades a file of migration 3: its snapshots, which have no ranges, are dropped", async () => {
    const path = freshPath();
    const raw = new Database(path);
    migrateSqlite(raw, SQLITE_MIGRATIONS.slice(0, 3));
    raw.exec(`INSERT INTO partitions (storage, partition, revision) VALUES ('main', 1, 1);
      INSERT INTO search_snapshots (storage, partition, chunk, chunks, revision, format, bytes)
        VALUES ('main', 1, 0, 1, 1, 'v1', x'0102')`);
    raw.close();
    const store = await createSqliteTemplateStore({ path });
    try {
      expect(await store.migrationVersions()).toEqual([1, 2, 3, 4]);
      expect(await store.searchSnapshot("main", 1)).toBe(undefined);
      await store.put(templateWrite({ storage: "main", partition: 1, classId: 1n }), 0);
      const chunks = [{ firstClassId: 1n, lastClassId: 1n, bytes: bytes(5, 10) }];
      expect(await store.putSearchSnapshot("main", 1, { revision: 2, format: "v1", chunks })).toBe(
        true,
      );
    } finally {
      await store.close();
    }
  });

  it("keeps a tombstone of a deleted class that holds nothing but where and when", async () => {
    const path = freshPath();
    const store = await createSqliteTemplateStore({ path });
    const bcid = { storage: "main", partition: 4, classId: 2n ** 63n - 1n };
    await store.put(templateWrite(bcid), 0);
    await store.delete(bcid);
    await store.close();

    const raw = new Database(path, { readonly: true });
    raw.defaultSafeIntegers(true);
    try {
      const columns = raw.prepare("PRAGMA table_info(tombstones)").all() as { name: string }[];
      expect(columns.map((column) => column.name)).toEqual([
        "storage",
        "partition",
        "class_id",
        "revision",
      ]);
      expect(raw.prepare("SELECT * FROM tombstones").all()).toEqual([
        { storage: "main", partition: 4n, class_id: 2n ** 63n - 1n, revision: 2n },
      ]);
      expect(raw.prepare("SELECT count(*) AS n FROM templates").get()).toEqual({ n: 0n });
      expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");
    } finally {
      raw.close();
    }
  });

  it("lets several processes migrate one new file and write one class concurrently", async () => {
    const path = freshPath();
    const processes = 3;
    const writesEach = 15;
    const root = fileURLToPath(new URL("../..", import.meta.url));
    const storeModule = new URL("./sqlite-template-store.ts", import.meta.url).href;
    // Plain JS run by node with tsx's loader, so the child imports the TypeScript store as is.
    const script = `
      const { createSqliteTemplateStore } = await import(process.env.STORE_MODULE);
      const store = await createSqliteTemplateStore({ path: process.env.DB_PATH, busyTimeoutMs: 30000 });
      const bcid = { storage: "shared", partition: 1, classId: 9223372036854775807n };
      let attempts = 0;
      for (let i = 0; i < ${writesEach}; i++) {
        const tag = process.env.WRITER + "-" + i;
        for (;;) {
          attempts++;
          const current = await store.get(bcid);
          const { version, ...base } = current ?? {
            version: 0, bcid, encoderVersion: 1, tags: [], createdAt: new Date(0),
            enrolledAt: new Date(0), featureCount: 1, thumbnailCount: 0,
            compact: new Uint8Array(8), enhanced: new Uint8Array(8),
          };
          try {
            await store.put({ ...base, tags: [...base.tags, tag] }, version);
            break;
          } catch (err) {
            if (err.kind !== "aborted") throw err;
          }
        }
      }
      await store.close();
      process.stdout.write(String(attempts));
    `;
    const run = promisify(execFile);
    const outputs = await Promise.all(
      Array.from({ length: processes }, (_, writer) =>
        run(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
          cwd: root,
          env: { ...process.env, STORE_MODULE: storeModule, DB_PATH: path, WRITER: `p${writer}` },
        }),
      ),
    );
    const attempts = outputs.reduce((sum, output) => sum + Number(output.stdout), 0);
    expect(attempts).toBeGreaterThanOrEqual(processes * writesEach);

    const store = await createSqliteTemplateStore({ path });
    try {
      const stored = await store.get({ storage: "shared", partition: 1, classId: 2n ** 63n - 1n });
      expect(stored?.version).toBe(processes * writesEach);
      expect(new Set(stored?.tags).size).toBe(processes * writesEach);
      expect(await store.migrationVersions()).toEqual([1, 2, 3, 4]);
    } finally {
      await store.close();
    }
  });

  it("refuses a database migrated by a newer facevault", async () => {
    const path = freshPath();
    await (await createSqliteTemplateStore({ path })).close();
    const raw = new Database(path);
    raw.prepare("INSERT INTO schema_migrations VALUES (999, 'from the future', 0)").run();
    raw.close();
    expect((await rejection(createSqliteTemplateStore({ path }))).kind).toBe("failed_precondition");
  });

  it("reports a file that cannot be opened as unavailable", async () => {
    writeFileSync(join(dir, "a-file"), "");
    const error = await rejection(createSqliteTemplateStore({ path: join(dir, "a-file", "x.db") }));
    expect(error.kind).toBe("unavailable");
  });

  it("creates a missing folder and keeps the database files private (0600)", async () => {
    const path = join(dir, "new", "deeper", "x.db");
    const store = await createSqliteTemplateStore({ path });
    await store.recordJob({
      jobId: "private-files",
      clientId: "c",
      method: "GetTemplateStatus",
      receivedAt: new Date(),
      durationMs: 1,
      outcome: 0,
      imageCount: 0,
    });
    for (const file of [path, `${path}-wal`, `${path}-shm`]) {
      expect(statSync(file).mode & 0o777, file).toBe(0o600);
    }
    expect(statSync(join(dir, "new")).mode & 0o777).toBe(0o700);
    await store.close();
  });
});
