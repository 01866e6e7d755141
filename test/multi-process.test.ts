/**
 * Enrollment end to end with real `facevault serve` processes (test/support/child-server.ts):
 * two servers sharing one PostgreSQL schema take concurrent enrollments of one class, and a
 * server killed with SIGKILL in the middle of enrollments leaves a template that the next
 * process reads, verifies against and keeps writing to. No mocks: real models, real databases.
 */

import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ConnectError } from "@connectrpc/connect";
import { createGrpcJsClient, createTokenSource, type GrpcJsClient } from "@facevault/client";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  FaceEnrollmentResponse_EnrollmentAction as Action,
  type FaceEnrollmentResponse,
  type FaceRecognition,
} from "../gen/bioid/services/v1/face_recognition_pb.js";
import { DEFAULT_ENCODER_VERSION } from "../src/face/encoders.js";
import { createTemplateStore } from "../src/store/create-template-store.js";
import type { Bcid } from "../src/store/template-store.js";
import { createTemplateSealer } from "../src/templates/template-sealer.js";
import { createTemplateVault } from "../src/templates/template-vault.js";
import {
  type ChildClientConfig,
  type ChildServer,
  startChildServer,
  stopAllChildServers,
  withChildOutput,
} from "./support/child-server.js";
import { testPostgresUrl } from "./support/test-server.js";

type Api = GrpcJsClient<typeof FaceRecognition>;

// --- fixtures -------------------------------------------------------------------------------

const facesDir = new URL("./fixtures/faces/", import.meta.url);
/** Single-face photos of people/, from labels.tsv: file and identity. */
const people = readFileSync(new URL("labels.tsv", facesDir), "utf8")
  .trim()
  .split("\n")
  .slice(1)
  .map((row) => row.split("\t"))
  .filter(([file, , faces]) => file?.startsWith("people/") && faces === "1")
  .map(([file = "", identity = ""]) => ({ file, identity }));
const photo = (file: string) => new Uint8Array(readFileSync(new URL(file, facesDir)));
const filesOf = (identity: string) =>
  people.filter((p) => p.identity === identity).map((p) => p.file);

// --- one deployment: key, client, database schema, temp dir ---------------------------------

const masterKey = randomBytes(32).toString("base64");
const client: ChildClientConfig = {
  clientId: "mp-client",
  key: randomBytes(64).toString("base64"),
  storage: "bws",
  partition: 7,
};
const bcid = (classId: bigint): Bcid => ({
  storage: client.storage,
  partition: client.partition,
  classId,
});
const schema = `fv_mp_${randomBytes(6).toString("hex")}`;
let dir: string;
const apis: Api[] = [];

function apiFor(server: ChildServer): Api {
  const api = createGrpcJsClient({
    address: server.address,
    token: createTokenSource({ clientId: client.clientId, key: client.key }),
  });
  apis.push(api);
  return api;
}

function start(name: string, database: string, databaseSchema?: string): Promise<ChildServer> {
  return startChildServer({
    name,
    dir,
    database,
    ...(databaseSchema === undefined ? {} : { databaseSchema }),
    masterKey,
    clients: [client],
    workers: 1,
  });
}

/**
 * The template as stored, opened with the deployment's master key in this process: the row's
 * counts and what the sealed enhanced template really holds.
 */
async function storedTemplate(database: string, classId: bigint, databaseSchema?: string) {
  const store = await createTemplateStore({
    database,
    ...(databaseSchema === undefined ? {} : { schema: databaseSchema }),
  });
  try {
    const row = await store.get(bcid(classId));
    if (!row) throw new Error(`no template row for class ${classId}`);
    const vault = createTemplateVault({
      sealer: createTemplateSealer({ masterKeys: [Buffer.from(masterKey, "base64")] }),
    });
    const enhanced = vault.openEnhanced(bcid(classId), row.enhanced);
    return { row, enhanced };
  } finally {
    await store.close();
  }
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const isPng = (bytes: Uint8Array) =>
  Buffer.from(bytes.subarray(0, 8)).toString("hex") === "89504e470d0a1a0a";
const describeError = (err: unknown) => {
  const e = ConnectError.from(err);
  return `code ${e.code}: ${e.rawMessage}`;
};
const matchedClassIds = async (api: Api, file: string) => {
  const found = await api.search({ images: [{ image: photo(file) }] });
  return (found.result[0]?.matches ?? []).map((m) => m.classId);
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "facevault-mp-"));
});

afterAll(async () => {
  for (const api of apis) api.close();
  await stopAllChildServers();
  const admin = new pg.Client({ connectionString: testPostgresUrl });
  await admin.connect();
  try {
    await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  } finally {
    await admin.end();
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * Holds every template write of the schema at the door: a transaction of this process takes
 * the templates table in EXCLUSIVE mode, which lets reads (SELECT) through but makes every
 * INSERT/UPDATE wait. `waitForWriters(n)` resolves once n facevault transactions are waiting
 * (one at the table, the others behind its partition revision row lock); `release` lets them
 * all go at once, so their read-merge-writes collide for certain instead of by chance.
 */
async function holdTemplateWrites() {
  const locker = new pg.Client({ connectionString: testPostgresUrl });
  const watcher = new pg.Client({ connectionString: testPostgresUrl });
  await Promise.all([locker.connect(), watcher.connect()]);
  const quoted = pg.escapeIdentifier(schema);
  await locker.query("BEGIN");
  await locker.query(`LOCK TABLE ${quoted}.templates IN EXCLUSIVE MODE`);
  let released = false;
  return {
    async waitForWriters(count: number, abandon: Promise<unknown>) {
      let abandoned = false;
      abandon.then(() => {
        abandoned = true;
      });
      const deadline = Date.now() + 90_000;
      for (;;) {
        const waiting = await watcher.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_stat_activity
           WHERE wait_event_type = 'Lock' AND position($1 in query) > 0`,
          [`${quoted}.`],
        );
        const n = Number(waiting.rows[0]?.n);
        if (n >= count) return;
        if (abandoned) throw new Error(`a call ended while ${n} writers were waiting`);
        if (Date.now() > deadline) throw new Error(`only ${n} of ${count} writers came`);
        await sleep(20);
      }
    },
    async release() {
      if (released) return;
      released = true;
      await locker.query("ROLLBACK").catch(() => undefined);
      await Promise.all([locker.end(), watcher.end()]);
    },
  };
}

// --- 1. two processes, one PostgreSQL schema ------------------------------------------------

describe("two server processes sharing one PostgreSQL schema", () => {
  let a: ChildServer;
  let b: ChildServer;
  let apiA: Api;
  let apiB: Api;

  beforeAll(async () => {
    // Started together: both migrate the fresh schema at the same time.
    [a, b] = await Promise.all([
      start("A", testPostgresUrl, schema),
      start("B", testPostgresUrl, schema),
    ]);
    apiA = apiFor(a);
    apiB = apiFor(b);
  });
  afterAll(() => stopAllChildServers());

  it("takes 20 concurrent enrollments of one class, alternating servers, and loses none", () =>
    withChildOutput(async () => {
      const classId = 4242n;
      // 20 different photos, none of obama or biden (the search test's people).
      const files = people
        .filter((p) => p.identity !== "obama" && p.identity !== "biden")
        .map((p) => p.file)
        .slice(0, 20);
      expect(new Set(files).size).toBe(20);

      // Each server analyses its 10 photos one after the other (one face worker); left alone,
      // their writes would collide only when two happen to finish together. The gate makes
      // all 20 read-merge-writes meet: 20 transactions waiting, then released together.
      const gate = await holdTemplateWrites();
      let settled: PromiseSettledResult<FaceEnrollmentResponse>[];
      try {
        const calls = Promise.allSettled(
          files.map((file, i) =>
            (i % 2 === 0 ? apiA : apiB).enroll({ classId, images: [{ image: photo(file) }] }),
          ),
        );
        await gate.waitForWriters(20, calls);
        await gate.release();
        settled = await calls;
      } finally {
        await gate.release();
      }
      const failures = settled.flatMap((s, i) =>
        s.status === "rejected"
          ? [`${files[i]} via ${i % 2 === 0 ? "A" : "B"}: ${describeError(s.reason)}`]
          : [],
      );
      expect(failures).toEqual([]);
      const responses = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));

      expect(responses.map((r) => r.enrolledImages)).toEqual(files.map(() => 1));
      const actions = responses.map((r) => Action[r.performedAction]);
      expect(actions.filter((x) => x === "NEW_TEMPLATE_CREATED")).toHaveLength(1);
      expect(actions.filter((x) => x === "TEMPLATE_UPDATED")).toHaveLength(19);
      // Each write merged into the one before it: the counts the 20 responses report are
      // 1..20 exactly. Two writes built on the same version (a lost update) would report the
      // same count twice.
      const counts = responses.map((r) => r.templateStatus?.featureVectors ?? 0);
      expect([...counts].sort((x, y) => x - y)).toEqual(files.map((_, i) => i + 1));

      for (const api of [apiA, apiB]) {
        const status = await api.getTemplateStatus({ classId });
        expect(status).toMatchObject({
          available: true,
          featureVectors: 20,
          thumbnailsStored: 20,
          encoderVersion: DEFAULT_ENCODER_VERSION,
        });
      }
      // The 20 thumbnails decrypt on the other server and are 20 different faces.
      const withThumbnails = await apiB.getTemplateStatus({ classId, downloadThumbnails: true });
      expect(withThumbnails.thumbnails).toHaveLength(20);
      expect(withThumbnails.thumbnails.every((t) => isPng(t.image))).toBe(true);
      expect(new Set(withThumbnails.thumbnails.map((t) => sha256(t.image))).size).toBe(20);

      // What is really stored: 20 distinct feature vectors, counts in the row agree.
      const { row, enhanced } = await storedTemplate(testPostgresUrl, classId, schema);
      expect(row).toMatchObject({ featureCount: 20, thumbnailCount: 20, version: 20 });
      expect(enhanced.features).toHaveLength(20);
      expect(
        new Set(enhanced.features.map((f) => sha256(new Uint8Array(f.vector.buffer)))).size,
      ).toBe(20);
    }));

  it("keeps the search index of one server in step with writes made through the other", () =>
    withChildOutput(async () => {
      const background = 5001n;
      const target = 5002n;
      const [obamaEnrolled, obamaProbe] = filesOf("obama");
      const [bidenEnrolled, bidenProbe] = filesOf("biden");
      if (!obamaEnrolled || !obamaProbe || !bidenEnrolled || !bidenProbe)
        throw new Error("fixtures");

      // B loads its index of the partition (not empty: the background class) before the
      // target exists, so what follows goes through its incremental sync, not a first load.
      await apiA.enroll({ classId: background, images: [{ image: photo(bidenEnrolled) }] });
      expect(await matchedClassIds(apiB, bidenProbe)).toContain(background);
      expect(await matchedClassIds(apiB, obamaProbe)).not.toContain(target);

      const enrolled = await apiA.enroll({
        classId: target,
        images: [{ image: photo(obamaEnrolled) }],
      });
      expect(enrolled.performedAction).toBe(Action.NEW_TEMPLATE_CREATED);
      const found = await apiB.search({ images: [{ image: photo(obamaProbe) }] });
      const match = found.result[0]?.matches.find((m) => m.classId === target);
      expect(match?.score).toBeGreaterThanOrEqual(0.5);

      await apiA.deleteTemplate({ classId: target });
      expect(await matchedClassIds(apiB, obamaProbe)).not.toContain(target);
      expect(await apiB.getTemplateStatus({ classId: target })).toMatchObject({ available: false });
      // Only the deleted class left B's index.
      expect(await matchedClassIds(apiB, bidenProbe)).toContain(background);
    }));
});

// --- 2. a process killed during enrollments ----------------------------------------------------

interface Burst {
  /** Calls that returned success with one enrolled image before the process died. */
  acked: number;
  /** Calls that failed (all after the kill, else the test fails). */
  failed: string[];
  /** How the kill landed. */
  killed: string;
}

/**
 * Sends one Enroll per file into `classId`, all at once; as soon as the first succeeds, calls
 * `kill` (which SIGKILLs the server at a moment of its choosing) and waits for every call.
 */
async function enrollThenKill(
  server: ChildServer,
  api: Api,
  classId: bigint,
  files: readonly string[],
  kill: () => Promise<string>,
): Promise<Burst> {
  let acked = 0;
  const failed: string[] = [];
  let firstAck: () => void = () => undefined;
  const first = new Promise<void>((resolve) => {
    firstAck = resolve;
  });
  const calls = files.map((file) =>
    api.enroll({ classId, images: [{ image: photo(file) }] }, { timeoutMs: 60_000 }).then(
      (res) => {
        if (res.enrolledImages !== 1) failed.push(`${file}: enrolled ${res.enrolledImages}`);
        else acked++;
        firstAck();
      },
      (err: unknown) => {
        const when = server.signalled ? "" : " (before the kill)";
        failed.push(`${file}${when}: ${describeError(err)}`);
      },
    ),
  );
  await Promise.race([first, Promise.all(calls)]);
  const killed = await kill();
  await server.exited;
  await Promise.all(calls);
  return { acked, failed, killed };
}

const spin = new Int32Array(new SharedArrayBuffer(4));

/**
 * SIGKILLs a SQLite-backed server in the middle of a write: this process probes the database's
 * write lock with BEGIN IMMEDIATE (no busy wait) every ~0.1 ms and, on the first SQLITE_BUSY,
 * kills the server `delayMs` later (0 = at the start of its transaction; a template put takes
 * about 10 ms here, most of it the commit's fsync). Probing starts `settleMs` after being
 * called so that the bookkeeping insert of the call just answered is not the write caught:
 * the next write is the template put of the next analysed image. Kills anyway after `maxMs`.
 */
async function killDuringSqliteWrite(
  server: ChildServer,
  path: string,
  delayMs: number,
  settleMs = 15,
  maxMs = 10_000,
) {
  await sleep(settleMs);
  const probe = new Database(path, { timeout: 0, fileMustExist: true });
  probe.pragma("busy_timeout = 0");
  try {
    const deadline = Date.now() + maxMs;
    while (Date.now() < deadline && server.running) {
      // Probe for 20 ms, then let the event loop take the call results that arrived.
      const slice = Date.now() + 20;
      while (Date.now() < slice) {
        try {
          probe.exec("BEGIN IMMEDIATE");
          probe.exec("ROLLBACK");
        } catch (err) {
          if ((err as { code?: string }).code !== "SQLITE_BUSY") throw err;
          if (delayMs > 0) Atomics.wait(spin, 0, 0, delayMs);
          server.killNow();
          return `${delayMs} ms after it took the SQLite write lock`;
        }
        Atomics.wait(spin, 0, 0, 0.1);
      }
      await sleep(0);
    }
    server.killNow();
    return "without having caught it writing";
  } finally {
    await server.exited;
    probe.close();
  }
}

/**
 * SIGKILLs a PostgreSQL-backed server in the middle of a template write: this process locks
 * the template row (SELECT .. FOR UPDATE), waits until a facevault backend is blocked behind
 * that lock inside a transaction that has already written (partition revision bumped, so it
 * has an xid) and is waiting to run its UPDATE of the template, kills the server, then
 * releases the lock. The killed transaction must never commit.
 */
async function killDuringPostgresWrite(server: ChildServer, classId: bigint) {
  const locker = new pg.Client({ connectionString: testPostgresUrl });
  // Polls from its own connection: inside the locker's transaction pg_stat_activity would be
  // the snapshot taken at its first read.
  const watcher = new pg.Client({ connectionString: testPostgresUrl });
  await Promise.all([locker.connect(), watcher.connect()]);
  try {
    await locker.query("BEGIN");
    const locked = await locker.query<{ pid: number }>(
      `SELECT pg_backend_pid() AS pid FROM ${pg.escapeIdentifier(schema)}.templates
       WHERE storage = $1 AND partition = $2 AND class_id = $3 FOR UPDATE`,
      [client.storage, client.partition, classId.toString()],
    );
    const lockerPid = locked.rows[0]?.pid;
    if (lockerPid === undefined) throw new Error("template row to lock not found");
    const deadline = Date.now() + 20_000;
    for (;;) {
      const blocked = await watcher.query<{ query: string }>(
        `SELECT query FROM pg_stat_activity
         WHERE $1 = ANY (pg_blocking_pids(pid)) AND backend_xid IS NOT NULL`,
        [lockerPid],
      );
      if (blocked.rows.some((r) => /^\s*UPDATE\b/i.test(r.query))) break;
      if (!server.running) return "after it had exited on its own";
      if (Date.now() > deadline) {
        server.killNow();
        return "without having caught it writing";
      }
      await sleep(2);
    }
    server.killNow();
    await server.exited;
    return "inside its template write transaction";
  } finally {
    await locker.query("ROLLBACK").catch(() => undefined);
    await Promise.all([locker.end(), watcher.end()]);
  }
}

/**
 * What a new process must find after a crash: the template readable and complete (every
 * acknowledged enrollment in it, counts equal to what is really stored), thumbnails that
 * decrypt, and a genuine photo that verifies (an impostor does not).
 */
async function expectIntactTemplate(
  api: Api,
  database: string,
  classId: bigint,
  acknowledged: number,
  genuine: string,
  impostor: string,
  databaseSchema?: string,
) {
  const status = await api.getTemplateStatus({ classId, downloadThumbnails: true });
  expect(status.available).toBe(true);
  expect(status.encoderVersion).toBe(DEFAULT_ENCODER_VERSION);
  expect(status.featureVectors).toBeGreaterThanOrEqual(acknowledged);
  expect(status.thumbnailsStored).toBe(status.featureVectors);
  expect(status.thumbnails).toHaveLength(status.featureVectors);
  expect(status.thumbnails.every((t) => isPng(t.image))).toBe(true);

  const { row, enhanced } = await storedTemplate(database, classId, databaseSchema);
  expect(enhanced.features).toHaveLength(status.featureVectors);
  expect(enhanced.thumbnails).toHaveLength(status.featureVectors);
  expect(row.featureCount).toBe(enhanced.features.length);

  const verified = await api.verify({ classId, image: { image: photo(genuine) } });
  expect(verified.verified).toBe(true);
  const rejected = await api.verify({ classId, image: { image: photo(impostor) } });
  expect(rejected.verified).toBe(false);
  return status.featureVectors;
}

describe("a server killed during enrollments", () => {
  afterEach(() => stopAllChildServers());

  // person-01 has 8 photos: 01 creates the template, 02..07 are enrolled (repeatedly) in
  // bursts, 08 is held out to verify with. An impostor must not verify.
  const [created, ...rest] = filesOf("person-01");
  const held = rest.pop() as string;
  const burst = [...rest, ...rest].slice(0, 8);
  const impostor = filesOf("person-02")[0] as string;

  it("SQLite: after each of three kills the next process finds a readable, complete template", () =>
    withChildOutput(async () => {
      const database = join(dir, "crash.db");
      const classId = 9001n;
      const kills: string[] = [];

      let server = await start("sqlite-1", database);
      let api = apiFor(server);
      const first = await api.enroll({ classId, images: [{ image: photo(created as string) }] });
      expect(first.performedAction).toBe(Action.NEW_TEMPLATE_CREATED);
      let acknowledged = 1;

      // Three crashes, each cutting a write at another point: its start, its middle, its end.
      for (const [round, delayMs] of [0, 4, 12].entries()) {
        const result = await enrollThenKill(server, api, classId, burst, () =>
          killDuringSqliteWrite(server, database, delayMs),
        );
        kills.push(result.killed);
        expect(result.failed.filter((f) => f.includes("before the kill"))).toEqual([]);
        expect(result.acked).toBeGreaterThanOrEqual(1);
        acknowledged += result.acked;

        server = await start(`sqlite-${round + 2}`, database);
        api = apiFor(server);
        await expectIntactTemplate(api, database, classId, acknowledged, held, impostor);
      }

      // Writes go on after the crashes: no stale lock, no half-written row in the way.
      const before = (await api.getTemplateStatus({ classId })).featureVectors;
      const more = await api.enroll({ classId, images: [{ image: photo(burst[0] as string) }] });
      expect(more.performedAction).toBe(Action.TEMPLATE_UPDATED);
      expect(more.templateStatus?.featureVectors).toBe(before + 1);
      // Every kill hit a write, or the test proved little.
      expect(kills).toEqual([0, 4, 12].map((ms) => `${ms} ms after it took the SQLite write lock`));
    }));

  it("PostgreSQL: a transaction cut by the kill leaves the template as last committed", () =>
    withChildOutput(async () => {
      const classId = 9002n;
      const server = await start("pg-1", testPostgresUrl, schema);
      const api = apiFor(server);
      const first = await api.enroll({ classId, images: [{ image: photo(created as string) }] });
      expect(first.performedAction).toBe(Action.NEW_TEMPLATE_CREATED);

      const result = await enrollThenKill(server, api, classId, burst, () =>
        killDuringPostgresWrite(server, classId),
      );
      expect(result.killed).toBe("inside its template write transaction");
      expect(result.failed.filter((f) => f.includes("before the kill"))).toEqual([]);
      expect(result.acked).toBeGreaterThanOrEqual(1);
      const acknowledged = 1 + result.acked;

      const next = await start("pg-2", testPostgresUrl, schema);
      const nextApi = apiFor(next);
      const count = await expectIntactTemplate(
        nextApi,
        testPostgresUrl,
        classId,
        acknowledged,
        held,
        impostor,
        schema,
      );
      // The cut transaction never committed: with the row locked nothing else could commit
      // either, so exactly the acknowledged enrollments are there.
      expect(count).toBe(acknowledged);

      const more = await nextApi.enroll({
        classId,
        images: [{ image: photo(burst[0] as string) }],
      });
      expect(more.performedAction).toBe(Action.TEMPLATE_UPDATED);
      expect(more.templateStatus?.featureVectors).toBe(count + 1);
    }));
});
