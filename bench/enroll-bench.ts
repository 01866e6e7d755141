/**
 * `npm run bench:enroll`: end-to-end Enroll throughput over gRPC and REST (one 640x480 image per
 * call) as a ratio to the bare pipeline throughput measured in the same run. Search latency is
 * `npm run bench:search`.
 */

import { availableParallelism } from "node:os";
import { createGrpcJsClient, createTokenSource } from "@facevault/client";
import { median, peakRssMb, photosAt, startBenchServer, throughput } from "./bench-support.js";

const imagesPerRun = Number(process.env.BENCH_IMAGES ?? 80);

async function enrollThroughput(): Promise<void> {
  const workers = availableParallelism();
  const concurrency = workers * 2; // keeps every worker busy while responses travel
  const photos = await photosAt(640, 480);
  const server = await startBenchServer(workers);
  const token = createTokenSource({ clientId: server.clientId, key: server.key, minutes: 30 });
  const grpc = createGrpcJsClient({ address: server.address, token });
  const photo = (i: number) => photos[i % photos.length] as Buffer;
  let classId = 1n;
  const pipeline = () =>
    throughput(imagesPerRun, concurrency, (i) =>
      server.app.faces.analyze([photo(i)], { thumbnails: true }),
    );
  const viaGrpc = () =>
    throughput(imagesPerRun, concurrency, (i) =>
      grpc.enroll({ classId: classId++, images: [{ image: photo(i) }] }),
    );
  const viaRest = () =>
    throughput(imagesPerRun, concurrency, async (i) => {
      const res = await fetch(`${server.baseUrl}/api/face/v1/enroll/${classId++}`, {
        method: "POST",
        headers: { authorization: `Bearer ${await token()}`, "content-type": "application/json" },
        body: JSON.stringify([{ image: photo(i).toString("base64") }]),
      });
      if (res.status !== 200) throw new Error(`REST enroll answered ${res.status}`);
      await res.arrayBuffer();
    });

  await viaGrpc(); // warm-up of every path
  await viaRest();
  // The box is noisy: interleave the three, several rounds, and compare medians.
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const runs = { pipeline: [] as number[], grpc: [] as number[], rest: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    runs.pipeline.push(await pipeline());
    runs.grpc.push(await viaGrpc());
    runs.rest.push(await viaRest());
  }
  const base = median(runs.pipeline);
  const show = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(", ");
  console.log(
    `Enroll throughput, 640x480, 1 image per call, ${workers} workers, ${concurrency} in flight, ${imagesPerRun} images per run, ${rounds} interleaved rounds (medians)`,
  );
  console.log(`  bare pipeline   ${base.toFixed(1)} images/s   (runs ${show(runs.pipeline)})`);
  for (const [name, label] of [
    ["grpc", "gRPC (grpc-js)"],
    ["rest", "REST (fetch)  "],
  ] as const) {
    const m = median(runs[name]);
    console.log(
      `  ${label}  ${m.toFixed(1)} images/s   ratio ${(m / base).toFixed(2)}   (runs ${show(runs[name])})`,
    );
  }
  grpc.close();
  await server.close();
}

await enrollThroughput();
console.log(`peak RSS ${peakRssMb()} MB`);
