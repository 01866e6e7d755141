/**
 * `npm run bench:enroll`: end-to-end Enroll throughput over gRPC and REST (one 640x480 image per
 * call) with the default encoder and with encoder 2, as ratios to the bare pipeline and to each
 * other measured in the same run, and Search latency per probe over 10k, 100k and 1M synthetic
 * compact templates of the default encoder in the in-memory index.
 */
import { availableParallelism } from "node:os";
import { pino } from "pino";
import { createGrpcJsClient } from "../src/client/grpc-js-client.js";
import { createTokenSource } from "../src/client/token-source.js";
import { DEFAULT_ENCODER_VERSION, getEncoder } from "../src/face/encoders.js";
import type { PartitionChanges } from "../src/store/template-store.js";
import { createSearchIndexes } from "../src/templates/search-index.js";
import { createTemplateSealer } from "../src/templates/template-sealer.js";
import { createTemplateVault } from "../src/templates/template-vault.js";
import { median, peakRssMb, photosAt, startBenchServer, throughput } from "./bench-support.js";

const imagesPerRun = Number(process.env.BENCH_IMAGES ?? 80);
const sizes = (process.env.BENCH_SEARCH_SIZES ?? "10000,100000,1000000").split(",").map(Number);

async function enrollThroughput(): Promise<void> {
  const workers = availableParallelism();
  const concurrency = workers * 2; // keeps every worker busy while responses travel
  const photos = await photosAt(640, 480);
  const photo = (i: number) => photos[i % photos.length] as Buffer;
  // One server per encoder, both alive; the one not being measured sits idle.
  const paths: Record<string, () => Promise<number>> = {};
  const closers: (() => Promise<void>)[] = [];
  for (const version of [DEFAULT_ENCODER_VERSION, 2]) {
    const server = await startBenchServer(workers, { encoderVersion: version });
    const token = createTokenSource({ clientId: server.clientId, key: server.key, minutes: 30 });
    const grpc = createGrpcJsClient({ address: server.address, token });
    closers.push(async () => {
      grpc.close();
      await server.close();
    });
    let classId = 1n;
    if (version === DEFAULT_ENCODER_VERSION) {
      paths.pipeline = () =>
        throughput(imagesPerRun, concurrency, (i) =>
          server.app.faces.analyze([photo(i)], { thumbnails: true }),
        );
    }
    paths[`grpc ${version}`] = () =>
      throughput(imagesPerRun, concurrency, (i) =>
        grpc.enroll({ classId: classId++, images: [{ image: photo(i) }] }),
      );
    paths[`rest ${version}`] = () =>
      throughput(imagesPerRun, concurrency, async (i) => {
        const res = await fetch(`${server.baseUrl}/api/face/v1/enroll/${classId++}`, {
          method: "POST",
          headers: { authorization: `Bearer ${await token()}`, "content-type": "application/json" },
          body: JSON.stringify([{ image: photo(i).toString("base64") }]),
        });
        if (res.status !== 200) throw new Error(`REST enroll answered ${res.status}`);
        await res.arrayBuffer();
      });
  }

  for (const [name, run] of Object.entries(paths)) if (name !== "pipeline") await run(); // warm-up
  // The box is noisy: interleave every path, several rounds, and compare medians.
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const runs = Object.fromEntries(Object.keys(paths).map((k) => [k, [] as number[]]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, run] of Object.entries(paths)) runs[name]?.push(await run());
  }
  const base = median(runs.pipeline ?? []);
  const show = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(", ");
  console.log(
    `Enroll throughput, 640x480, 1 image per call, ${workers} workers, ${concurrency} in flight, ${imagesPerRun} images per run, ${rounds} interleaved rounds (medians)`,
  );
  console.log(
    `  bare pipeline, encoder ${DEFAULT_ENCODER_VERSION}   ${base.toFixed(1)} images/s   (runs ${show(runs.pipeline ?? [])})`,
  );
  for (const version of [DEFAULT_ENCODER_VERSION, 2]) {
    for (const [protocol, label] of [
      ["grpc", "gRPC (grpc-js)"],
      ["rest", "REST (fetch)  "],
    ] as const) {
      const xs = runs[`${protocol} ${version}`] ?? [];
      const m = median(xs);
      console.log(
        `  ${label} encoder ${version}  ${m.toFixed(1)} images/s   ratio to the bare pipeline ${(m / base).toFixed(2)}   (runs ${show(xs)})`,
      );
    }
  }
  for (const protocol of ["grpc", "rest"]) {
    const ratio =
      median(runs[`${protocol} ${DEFAULT_ENCODER_VERSION}`] ?? []) /
      median(runs[`${protocol} 2`] ?? []);
    console.log(
      `  Enroll over ${protocol}, encoder ${DEFAULT_ENCODER_VERSION} / encoder 2: ${ratio.toFixed(2)}`,
    );
  }
  for (const close of closers) await close();
}

async function searchLatency(): Promise<void> {
  const encoder = getEncoder(DEFAULT_ENCODER_VERSION);
  const vault = createTemplateVault({
    sealer: createTemplateSealer({ masterKeys: [new Uint8Array(32).fill(7)] }),
  });
  const dim = encoder.dimension;
  const random = mulberry32(42);
  const gaussian = () =>
    Math.sqrt(-2 * Math.log(random() || 1e-9)) * Math.cos(2 * Math.PI * random());
  const vector = () => {
    // Unit length, random directions: like real descriptors, no two close.
    const v = Float32Array.from({ length: dim }, gaussian);
    const n = Math.hypot(...v);
    return v.map((x) => x / n);
  };
  console.log(
    `Search latency per probe (in-memory index of one partition, encoder ${encoder.version}, ${dim}-D, after loading)`,
  );
  for (const size of sizes) {
    const upserts = [];
    for (let i = 1; i <= size; i++) {
      const bcid = { storage: "s", partition: 1, classId: BigInt(i) };
      const compact = vault.sealCompact(
        bcid,
        { encoderVersion: encoder.version, featureCount: 1, vector: vector() },
        false,
      );
      upserts.push({
        classId: BigInt(i),
        encoderVersion: encoder.version,
        tags: i % 2 ? ["odd"] : [],
        compact,
      });
    }
    const changes: PartitionChanges = { revision: 1, upserts, deletes: [], full: true };
    const store = {
      partitionChanges: async (_s: string, _p: number, since: number) =>
        since === 0 ? changes : { revision: 1, upserts: [], deletes: [], full: false },
    };
    const indexes = createSearchIndexes({
      store,
      vault,
      encoderVersion: encoder.version,
      dimension: dim,
      metric: encoder.metric,
      logger: pino({ level: "silent" }),
    });
    const index = indexes.partition("s", 1);
    const t0 = performance.now();
    await index.sync();
    const loadMs = performance.now() - t0;
    const threshold = encoder.distanceForScore(0.5);
    const timings = { threshold: [] as number[], top10: [] as number[], tagged: [] as number[] };
    for (let p = 0; p < 30; p++) {
      const probe = vector();
      let t = performance.now();
      await index.sync();
      index.search({ probe, tags: [], maxDistance: threshold, limit: 100 });
      timings.threshold.push(performance.now() - t);
      t = performance.now();
      index.search({ probe, tags: [], maxDistance: Number.POSITIVE_INFINITY, limit: 10 });
      timings.top10.push(performance.now() - t);
      t = performance.now();
      index.search({ probe, tags: ["odd"], maxDistance: threshold, limit: 100 });
      timings.tagged.push(performance.now() - t);
    }
    console.log(
      `  ${String(size).padStart(8)} templates: load ${(loadMs / 1000).toFixed(1)} s; per probe median ${median(timings.threshold).toFixed(2)} ms (threshold), ${median(timings.top10).toFixed(2)} ms (top 10), ${median(timings.tagged).toFixed(2)} ms (tag filter)`,
    );
  }
}

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

await enrollThroughput();
await searchLatency();
console.log(`peak RSS ${peakRssMb()} MB`);
