/**
 * `npx tsx bench/encoder-stages.ts [rounds] [versions]`: the pipeline's stage times with the
 * default encoder and with encoder 2 (or the comma-separated `versions`), interleaved in one
 * worker (640x480 fixture photos, with thumbnails as Enroll makes them): medians of the embed
 * stage and of the whole analysis per image. Steadier on a shared box than end-to-end
 * throughput, as only the stage that differs is compared.
 */
import { DEFAULT_ENCODER_VERSION } from "../src/face/encoders.js";
import { createFacePool } from "../src/face/face-pool.js";
import { median, photosAt } from "./bench-support.js";

const rounds = Number(process.argv[2] ?? 4);
const versions = process.argv[3]
  ? process.argv[3].split(",").map(Number)
  : [DEFAULT_ENCODER_VERSION, 2];
const photos = await photosAt(640, 480);
const times = new Map(versions.map((v) => [v, { embed: [] as number[], total: [] as number[] }]));
let current = versions[0] as number;
const pool = createFacePool({
  workers: 1,
  maxQueue: 64,
  onImageAnalysed: ({ timings: t }) => {
    const mine = times.get(current);
    mine?.embed.push(t.embed);
    mine?.total.push(t.decode + t.detect + t.align + t.quality + t.embed + t.thumbnail);
  },
});
await pool.ready();
for (let r = 0; r < rounds; r++) {
  for (const version of versions) {
    current = version;
    for (const photo of photos)
      await pool.analyze([photo], { encoderVersion: version, thumbnails: true });
  }
}
await pool.close();
for (const [version, t] of times) {
  console.log(
    `encoder ${version}: ${t.embed.length} images, median embed ${median(t.embed).toFixed(1)} ms, median whole analysis ${median(t.total).toFixed(1)} ms`,
  );
}
