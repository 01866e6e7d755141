/**
 * Replicas benchmark (not a test): `npm run bench:replicas`.
 *
 * Mixed work (Enroll, Verify, Search, SetTemplateTags, GetTemplateStatus, DeleteTemplate) from
 * BENCH_CALLERS callers (default 4) against one replica, then against two replicas sharing the
 * same PostgreSQL schema with the calls spread over both, in interleaved rounds (medians).
 * Every replica is a `facevault serve` child process with BENCH_REPLICA_WORKERS face workers
 * (default 1, so one replica and two replicas differ only in the process count); the single
 * replica is also run with twice the workers, for the same thread count in one process.
 * A unit of work is the six calls on one new class; the figure is units per second.
 * PostgreSQL: FACEVAULT_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGrpcJsClient, createTokenSource, type GrpcJsClient } from "@facevault/client";
import pg from "pg";
import type { FaceRecognition } from "../gen/bioid/services/v1/face_recognition_pb.js";
import {
  type ChildServer,
  startChildServer,
  stopAllChildServers,
} from "../test/support/child-server.js";
import { testPostgresUrl } from "../test/support/test-server.js";
import { median, photosAt, reportSummary, throughput } from "./bench-support.js";

const CALLERS = Number(process.env.BENCH_CALLERS ?? 4);
const UNITS = Number(process.env.BENCH_UNITS ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WORKERS = Number(process.env.BENCH_REPLICA_WORKERS ?? 1);

type Api = GrpcJsClient<typeof FaceRecognition>;

const dir = mkdtempSync(join(tmpdir(), "facevault-replicas-bench-"));
const schema = `fv_bench_replicas_${randomBytes(4).toString("hex")}`;
const masterKey = randomBytes(32).toString("base64");
const client = {
  clientId: "bench",
  key: randomBytes(64).toString("base64"),
  storage: "bws",
  partition: 1,
};
const photos = (await photosAt(640, 480, 8)).map((b) => new Uint8Array(b));
let nextClass = 1n;

/** The six calls on one new class, each through the replica its turn picks. */
async function unit(apis: readonly Api[], turn: number): Promise<void> {
  const classId = nextClass++;
  const on = (k: number) => apis[(turn + k) % apis.length] as Api;
  const photo = photos[turn % photos.length] as Uint8Array;
  await on(0).enroll({ classId, images: [{ image: photo }] });
  const verified = await on(1).verify({ classId, image: { image: photo } });
  if (!verified.verified) throw new Error(`class ${classId}: the enrolled photo did not verify`);
  await on(2).search({ images: [{ image: photo }], topMatches: true });
  await on(3).setTemplateTags({ classId, tags: ["bench"] });
  await on(4).getTemplateStatus({ classId });
  await on(5).deleteTemplate({ classId });
}

const clients: Api[] = [];
try {
  const start = (name: string, workers: number) =>
    startChildServer({
      name,
      dir,
      database: testPostgresUrl,
      databaseSchema: schema,
      masterKey,
      clients: [client],
      workers,
      startTimeoutMs: 300_000,
    });
  // One after the other: the schema's migrations run once, in the first.
  const single = await start("single", WORKERS);
  const singleWide = await start("single-wide", 2 * WORKERS);
  const pair = [await start("R1", WORKERS), await start("R2", WORKERS)];
  const api = (s: ChildServer) => {
    const c = createGrpcJsClient({
      address: s.address,
      token: createTokenSource({ clientId: client.clientId, key: client.key }),
    });
    clients.push(c);
    return c;
  };
  const setups = {
    [`1 replica, ${WORKERS} worker(s)`]: [api(single)],
    [`1 replica, ${2 * WORKERS} worker(s)`]: [api(singleWide)],
    [`2 replicas, ${WORKERS} worker(s) each`]: pair.map(api),
  };
  // Warm-up: models and connections of every replica.
  for (const apis of Object.values(setups))
    await throughput(apis.length * 2, 2, (i) => unit(apis, i));

  const rates: Record<string, number[]> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, apis] of Object.entries(setups)) {
      const rate = await throughput(UNITS, CALLERS, (i) => unit(apis, i));
      rates[name] = [...(rates[name] ?? []), rate];
    }
  }
  console.log(
    `${UNITS} units of 6 calls (Enroll, Verify, Search, tags, status, delete) per measurement, ` +
      `${CALLERS} callers, ${ROUNDS} interleaved rounds, medians`,
  );
  const names = Object.keys(setups);
  const baseline = median(rates[names[0] as string] as number[]);
  const rows = names.map((name) => {
    const m = median(rates[name] as number[]);
    const line = `${m.toFixed(2)} units/s (${(m * 6).toFixed(1)} calls/s), ratio ${(m / baseline).toFixed(2)}`;
    console.log(`  ${name}: ${line}`);
    return { what: `PostgreSQL, ${name}`, result: line };
  });
  reportSummary("replicas", rows);
} finally {
  for (const c of clients) c.close();
  await stopAllChildServers();
  const admin = new pg.Client({ connectionString: testPostgresUrl });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
}
