/**
 * Calibration of PhotoVerify's accuracy levels (not a test). Usage:
 *
 *   npx tsx bench/calibrate-photo-verify.ts <lfw-dir> [workers] [max-images]
 *
 * `max-images` (default all) takes every n-th image so that a busy machine finishes; fewer
 * images give fewer impostor pairs for each level to rest on (printed).
 * Every image named by `<lfw-dir>/pairs.tsv` goes through the face pool (encoder 3, the labelled
 * face as the service uses it); over all cross-identity pairs among them it prints the distance
 * at 0.5%, 0.25%, 0.1%, 0.01% and 0.001% false accepts (the five levels), how many impostor
 * pairs lie below each, and the share of genuine cross pairs accepted there. The distances go
 * into `PHOTO_VERIFY_LEVELS` in src/face/photo-verify-levels.ts.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { getEncoder } from "../src/face/encoders.js";
import { createFacePool } from "../src/face/face-pool.js";
import { identityOf, pct, readLfwPairs } from "./lfw-support.js";

const FARS = [0.005, 0.0025, 0.001, 0.0001, 0.00001];
const ENCODER = 3;

async function main(): Promise<void> {
  const [lfw, workersArg, maxArg] = process.argv.slice(2);
  if (!lfw) throw new Error("usage: calibrate-photo-verify.ts <lfw-dir> [workers] [max-images]");
  const everyFile = [...new Set(readLfwPairs(lfw).flatMap((p) => [p.a, p.b]))].sort();
  const step = Math.max(1, everyFile.length / Number(maxArg ?? everyFile.length));
  const files = everyFile.filter((_, i) => Math.floor(i / step) !== Math.floor((i - 1) / step));
  const pool = createFacePool({ workers: Number(workersArg ?? 1), maxQueue: 64 });
  await pool.ready();
  const vectors: { id: string; v: Float32Array }[] = [];
  const batch = 16;
  for (let i = 0; i < files.length; i += batch) {
    const names = files.slice(i, i + batch);
    const analyses = await pool.analyze(
      names.map((f) => readFileSync(join(lfw, f))),
      { encoderVersion: ENCODER },
    );
    analyses.forEach((a, k) => {
      if (a.features) vectors.push({ id: identityOf(names[k] as string), v: a.features.vector });
    });
    if (i % 160 === 0) process.stderr.write(`${i}/${files.length}\n`);
  }
  await pool.close();
  const encoder = getEncoder(ENCODER);
  const impostor: number[] = [];
  const genuine: number[] = [];
  for (let i = 0; i < vectors.length; i++) {
    const a = vectors[i] as { id: string; v: Float32Array };
    for (let j = i + 1; j < vectors.length; j++) {
      const b = vectors[j] as { id: string; v: Float32Array };
      (a.id === b.id ? genuine : impostor).push(encoder.distance(a.v, b.v));
    }
  }
  const sortedImpostor = Float64Array.from(impostor).sort();
  console.log(
    `${vectors.length} of ${files.length} images with features; ${sortedImpostor.length} impostor, ${genuine.length} genuine cross pairs`,
  );
  for (const far of FARS) {
    const below = Math.floor(far * sortedImpostor.length);
    const d = sortedImpostor[below] as number;
    console.log(
      `FAR ${far * 100}%: d=${d.toFixed(4)} score=${encoder.score(d).toFixed(4)}; ${below} impostor pairs below; genuine accepted ${pct(genuine.filter((g) => g < d).length / genuine.length)}`,
    );
  }
}

await main();
