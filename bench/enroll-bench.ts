/**
 * `npm run bench:enroll`: end-to-end Enroll throughput over gRPC and REST (one 640x480 image per
 * call) with the default encoder and the encoders in BENCH_ENCODERS (default 3,2), as ratios to
 * the bare pipeline and to each other measured in the same run. Search latency is
 * `npm run bench:search`.
 */
import { availableParallelism } from "node:os";
import { createGrpcJsClient, createTokenSource } from "@facevault/client";
import { DEFAULT_ENCODER_VERSION } from "../src/face/encoders.js";
import {
  median,
  peakRssMb,
  photosAt,
  reportSummary,
  startBenchServer,
  throughput,
} from "./bench-support.js";

const imagesPerRun = Number(process.env.BENCH_IMAGES ?? 80);
/** The default encoder first, then the ones it is compared with. */
const versions = [
  DEFAULT_ENCODER_VERSION,
  ...(process.env.BENCH_ENCODERS ?? "3,2")
    .split(",")
    .map(Number)
    .filter((v) => v !== DEFAULT_ENCODER_VERSION),
];

async function enrollThroughput(): Promise<void> {
  const workers = availableParallelism();
  const concurrency = workers * 2; // keeps every worker busy while responses travel
  const photos = await photosAt(640, 480);
  const photo = (i: number) => photos[i % photos.length] as Buffer;
  // One server per encoder, all alive; the one not being measured sits idle.
  const paths: Record<string, () => Promise<number>> = {};
  const closers: (() => Promise<void>)[] = [];
  for (const version of versions) {
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
  for (const version of versions) {
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
  reportSummary(
    "enroll",
    (["grpc", "rest"] as const).map((protocol) => {
      const m = median(runs[`${protocol} ${DEFAULT_ENCODER_VERSION}`] ?? []);
      return {
        what: `Enroll over ${protocol === "grpc" ? "gRPC" : "REST"}, 1 image 640x480, encoder ${DEFAULT_ENCODER_VERSION} / the bare pipeline`,
        result: `${(m / base).toFixed(2)} (${m.toFixed(1)} images/s)`,
      };
    }),
  );
  for (const other of versions.slice(1)) {
    for (const protocol of ["grpc", "rest"]) {
      const ratio =
        median(runs[`${protocol} ${DEFAULT_ENCODER_VERSION}`] ?? []) /
        median(runs[`${protocol} ${other}`] ?? []);
      console.log(
        `  Enroll over ${protocol}, encoder ${DEFAULT_ENCODER_VERSION} / encoder ${other}: ${ratio.toFixed(2)}`,
      );
    }
  }
  for (const close of closers) await close();
}

await enrollThroughput();
console.log(`peak RSS ${peakRssMb()} MB`);
