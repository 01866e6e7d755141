/**
 * `npm run fixture:search`: makes `test/fixtures/search/real-vectors-128.sealed`, 10,000 real
 * 128-D feature vectors (encoder 2) for the search-kernel test. Each single-face fixture photo is
 * varied (mirror, crop offset, zoom, brightness and blur) and every variant goes through the real
 * face pipeline. Feature vectors are biometric data: the file is sealed (AES-256-GCM, the
 * project's sealer) under a fixed test-only key, so no vector lies on disk in clear. Takes about
 * 10 to 20 minutes with 2 workers; run it again only when the encoder changes.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { createFacePool } from "../src/face/face-pool.js";
import { createTemplateSealer } from "../src/templates/template-sealer.js";
import {
  encodeVectorFixture,
  VECTOR_FIXTURE_AAD,
  vectorFixtureKey,
} from "../test/support/vector-fixture.js";
import { fixtureDir } from "./bench-support.js";

const wanted = Number(process.env.FIXTURE_VECTORS ?? 10_000);
const out = fileURLToPath(
  new URL("../test/fixtures/search/real-vectors-128.sealed", import.meta.url),
);

const rows = readFileSync(join(fixtureDir, "labels.tsv"), "utf8").trim().split("\n").slice(1);
const photos = rows
  .map((row) => row.split("\t"))
  .filter(([, , faces]) => faces === "1")
  .map(([file]) => join(fixtureDir, file as string));

/** The variants of one photo, in a fixed order. */
async function* variants(path: string): AsyncGenerator<Buffer> {
  const meta = await sharp(path).metadata();
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  for (const zoom of [1, 0.92, 0.85]) {
    for (const [dx, dy] of [
      [0, 0],
      [-1, 0],
      [1, 0],
      [0, -1],
      [0, 1],
      [-1, -1],
      [1, 1],
      [-1, 1],
      [1, -1],
    ] as const) {
      const cw = Math.round(w * zoom);
      const ch = Math.round(h * zoom);
      const left = Math.max(0, Math.min(w - cw, Math.round((w - cw) / 2 + dx * w * 0.03)));
      const top = Math.max(0, Math.min(h - ch, Math.round((h - ch) / 2 + dy * h * 0.03)));
      for (const mirror of [false, true]) {
        for (const [brightness, blur] of [
          [1, 0],
          [0.8, 0],
          [1.2, 1.2],
        ] as const) {
          let img = sharp(path).extract({ left, top, width: cw, height: ch });
          if (mirror) img = img.flop();
          if (brightness !== 1) img = img.modulate({ brightness });
          if (blur > 0) img = img.blur(blur);
          yield await img.jpeg({ quality: 90 }).toBuffer();
        }
      }
    }
  }
}

const pool = createFacePool({ workers: 2, maxQueue: 64, encoderVersion: 2 });
await pool.ready();
const vectors: Float32Array[] = [];
const generators = photos.map((p) => variants(p));
const sealer = createTemplateSealer({ masterKeys: [vectorFixtureKey] });
mkdirSync(fileURLToPath(new URL("../test/fixtures/search/", import.meta.url)), { recursive: true });
const save = () =>
  writeFileSync(
    out,
    sealer.seal(encodeVectorFixture(vectors.slice(0, wanted)), VECTOR_FIXTURE_AAD),
  );
let round = 0;
// Round-robin over the photos so that any prefix of the file mixes all people.
while (vectors.length < wanted && generators.length > 0) {
  const batch: Buffer[] = [];
  for (let i = generators.length - 1; i >= 0; i--) {
    const next = await (generators[i] as AsyncGenerator<Buffer>).next();
    if (next.done) generators.splice(i, 1);
    else batch.push(next.value);
  }
  for (let i = 0; i < batch.length; i += 16) {
    const results = await pool.analyze(batch.slice(i, i + 16), { encoderVersion: 2 });
    for (const r of results) if (r.features) vectors.push(r.features.vector);
  }
  round++;
  save(); // after every round, so that a stopped run leaves what it made
  console.log(`round ${round}: ${vectors.length} vectors`);
}
await pool.close();
console.log(`wrote ${Math.min(wanted, vectors.length)} vectors to ${out}`);
