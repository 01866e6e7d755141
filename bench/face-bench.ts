/**
 * Face pipeline benchmark (not a test): `npx tsx bench/face-bench.ts [images] [repeats]`.
 *
 * For 640x480 and 1920x1080 photos it prints the per-stage medians, images/s of the whole
 * pipeline (FacePool: decode → … → thumbnail, messages to and from the workers) with 1 and N
 * workers, the images/s of bare model inference in the same run (bench/face-bench-worker.ts:
 * pre-decoded pixels, detector + mesh + iris + antispoof + liveness + descriptor, nothing else),
 * their ratio (goal ≥ 0.9) and the peak RSS. The box is noisy: compare ratios, not absolutes.
 */
import { availableParallelism } from "node:os";
import { decodeDefaults, decodeImage } from "../src/face/decode.js";
import { createFacePool, type FacePool } from "../src/face/face-pool.js";
import type { StageTimings } from "../src/face/pipeline.js";
import { startWorker } from "../src/face/start-worker.js";
import type { RgbImage } from "../src/face/types.js";
import { portraitsAt, reportSummary } from "./bench-support.js";

const IMAGES_PER_RUN = Number(process.argv[2] ?? process.env.BENCH_FACE_IMAGES ?? 32);
const REPEATS = Number(process.argv[3] ?? process.env.BENCH_ROUNDS ?? 3);
const N = availableParallelism();
const PHOTOS = [
  "people/obama/01.jpg",
  "people/person-01/01.jpg",
  "people/person-02/01.jpg",
  "people/person-03/01.jpg",
  "people/person-05/02.jpg",
  "people/biden/01.jpg",
  "people/kit/01.jpg",
  "people/rose/02.jpg",
];
const SIZES = [
  { name: "640x480", width: 640, height: 480 },
  { name: "1920x1080", width: 1920, height: 1080 },
];

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};
const peakRssMb = (): number => Math.round(process.resourceUsage().maxRSS / 1024);

/** Bare model inference on `workers` engines of its own, measured as often as asked. */
async function createBareInference(workers: number) {
  const threads = Array.from({ length: workers }, () =>
    startWorker(new URL("./face-bench-worker.ts", import.meta.url)),
  );
  await Promise.all(threads.map((w) => new Promise((resolve) => w.once("message", resolve))));
  return {
    /** Images/s with every engine running all `images` `rounds` times. */
    run: async (
      images: RgbImage[],
      rounds: number,
      schedule: "minimal" | "pipeline",
    ): Promise<number> => {
      const started = performance.now();
      const results = await Promise.all(
        threads.map(
          (w) =>
            new Promise<{ count: number }>((resolve) => {
              w.once("message", resolve);
              w.postMessage({ images, rounds, schedule });
            }),
        ),
      );
      const seconds = (performance.now() - started) / 1000;
      return results.reduce((sum, r) => sum + r.count, 0) / seconds;
    },
    close: () => Promise.all(threads.map((w) => w.terminate())),
  };
}

/**
 * Pipeline images/s through a FacePool: one image per call, twice as many calls in flight as
 * workers (concurrent requests); with thumbnails as an enrollment asks, or without as
 * verification and search do.
 */
async function runPipeline(
  pool: FacePool,
  inputs: Uint8Array[],
  workers: number,
  total: number,
  thumbnails: boolean,
): Promise<number> {
  let next = 0;
  const started = performance.now();
  const lane = async (): Promise<void> => {
    while (next < total) {
      const image = inputs[next++ % inputs.length] as Uint8Array;
      await pool.analyze([image], { thumbnails });
    }
  };
  await Promise.all(Array.from({ length: workers * 2 }, lane));
  return total / ((performance.now() - started) / 1000);
}

console.log(
  `${IMAGES_PER_RUN} images per measurement, each measured ${REPEATS} times interleaved, medians; ratio = pipeline img/s / bare inference img/s at the same size and workers`,
);
for (const size of SIZES) {
  const inputs = await portraitsAt(PHOTOS, size.width, size.height);
  const decoded = await Promise.all(inputs.map((b) => decodeImage(b, decodeDefaults())));
  const rgb = decoded.map((d) => d.image);
  for (const workers of [...new Set([1, N])]) {
    const rounds = Math.max(1, Math.round(IMAGES_PER_RUN / inputs.length / workers));
    const bare = await createBareInference(workers);
    const timings: StageTimings[] = [];
    const pool = createFacePool({ workers, maxQueue: 1024 });
    // The same pool handing each worker one image at a time (face.jobsPerWorker 1): the
    // baseline of the overlap, and its stage timings are each image's own (with two images in
    // a worker, decode and thumbnail also count the wait behind the other image's models).
    const serial = createFacePool({
      workers,
      maxQueue: 1024,
      jobsPerWorker: 1,
      onImageAnalysed: (r) => timings.push(r.timings),
    });
    await Promise.all([pool.ready(), serial.ready()]);
    await pool.analyze(inputs.slice(0, workers), { thumbnails: true });
    await serial.analyze(inputs.slice(0, workers), { thumbnails: true });
    const runs = {
      minimal: [] as number[],
      schedule: [] as number[],
      plain: [] as number[],
      enroll: [] as number[],
      serial: [] as number[],
    };
    for (let r = 0; r < REPEATS; r++) {
      runs.minimal.push(await bare.run(rgb, rounds, "minimal"));
      runs.schedule.push(await bare.run(rgb, rounds, "pipeline"));
      runs.plain.push(await runPipeline(pool, inputs, workers, IMAGES_PER_RUN, false));
      runs.enroll.push(await runPipeline(pool, inputs, workers, IMAGES_PER_RUN, true));
      timings.length = 0;
      runs.serial.push(await runPipeline(serial, inputs, workers, IMAGES_PER_RUN, true));
    }
    await pool.close();
    await serial.close();
    await bare.close();
    const m = {
      minimal: median(runs.minimal),
      schedule: median(runs.schedule),
      plain: median(runs.plain),
      enroll: median(runs.enroll),
      serial: median(runs.serial),
    };
    const stage = (key: keyof StageTimings): string =>
      median(timings.map((t) => t[key])).toFixed(1);
    if (workers === N) {
      reportSummary("face", [
        {
          what: `Face pipeline / the same model calls, ${size.name}, ${workers} workers`,
          result: `${(m.enroll / m.schedule).toFixed(2)} with thumbnails, ${(m.plain / m.schedule).toFixed(2)} without`,
        },
      ]);
    }
    console.log(
      [
        `\n${size.name} (analysed ${rgb[0]?.width}x${rgb[0]?.height}), ${workers} worker(s):`,
        `  bare inference: minimal ${m.minimal.toFixed(1)} img/s, the pipeline's model schedule ${m.schedule.toFixed(1)} img/s`,
        `  pipeline without thumbnails ${m.plain.toFixed(1)} img/s: ratio ${(m.plain / m.schedule).toFixed(2)} to the same models, ${(m.plain / m.minimal).toFixed(2)} to minimal`,
        `  pipeline with thumbnails ${m.enroll.toFixed(1)} img/s: ratio ${(m.enroll / m.schedule).toFixed(2)} to the same models, ${(m.enroll / m.minimal).toFixed(2)} to minimal`,
        `  one image per worker at a time, with thumbnails: ${m.serial.toFixed(1)} img/s, ratio ${(m.serial / m.schedule).toFixed(2)}; two at a time gain ${(m.enroll / m.serial).toFixed(2)}x`,
        `  stage medians (ms, one at a time, with thumbnails): decode ${stage("decode")}, detect+rotation ${stage("detect")}, align ${stage("align")}, quality ${stage("quality")}, embed ${stage("embed")}, thumbnail ${stage("thumbnail")}`,
        `  peak RSS so far ${peakRssMb()} MB (bench process: ${workers} bare engine(s) and ${workers} pool worker(s) alive together)`,
      ].join("\n"),
    );
  }
}
