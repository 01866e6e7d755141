/**
 * Liveness evaluation (not a test): `npm run eval:liveness [-- <faces-dir> [pairs-per-photo]]`.
 *
 * - Attacks: from every single-face photo, `pairs-per-photo` (default 2) pairs per mode of the
 *   photo held up to the camera and moved (bench/liveness-attacks.ts: perspective, scale, blur,
 *   JPEG, moiré). Reported: the share called live by active liveness, by passive liveness (either
 *   shot) and by both.
 * - Genuine: every pair of different photos of one person (labels.tsv) whose head pose differs
 *   by at least `minMovementDegrees`: the share called not live by each mode.
 * - Directions: for those genuine pairs, the direction from the mesh pose against a reference
 *   read from the 2D mesh alone (the nose tip's place between the cheeks and between the eyes
 *   and the mouth), and against the mirror image of the pair (left and right must swap).
 *
 * The faces folder defaults to test/fixtures/faces (labels.tsv with file, identity, faces).
 * Every photo is first scaled to fit `EVAL_SIZE` pixels (default 640: a webcam frame's size).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { createFacePool } from "../src/face/face-pool.js";
import { PASSIVE_DEFAULTS } from "../src/face/liveness.js";
import { MOTION_DEFAULTS, measureMotion } from "../src/face/motion.js";
import type { FaceGeometry, ImageAnalysis } from "../src/face/types.js";
import { fixtureDir } from "./bench-support.js";
import { pct } from "./lfw-support.js";
import { ATTACK_MODES, attackPair } from "./liveness-attacks.js";

const dir = process.argv[2] ?? fixtureDir;
const pairsPerPhoto = Number(process.argv[3] ?? 2);

const rows = readFileSync(join(dir, "labels.tsv"), "utf8")
  .trim()
  .split("\n")
  .slice(1)
  .map((r) => r.split("\t"))
  .filter(([file, identity, faces]) => file?.startsWith("people/") && identity && faces === "1")
  .map(([file, identity]) => ({ file: file as string, identity: identity as string }));

const pool = createFacePool({ workers: Number(process.env.EVAL_WORKERS ?? 1), maxQueue: 64 });
await pool.ready();
const analyse = async (images: Uint8Array[]): Promise<ImageAnalysis[]> => {
  const out: ImageAnalysis[] = [];
  for (let i = 0; i < images.length; i += 16) {
    // Copies: the pool hands the bytes over to its workers.
    out.push(...(await pool.analyze(images.slice(i, i + 16).map((b) => Uint8Array.from(b)))));
  }
  return out;
};
const texture = (a: ImageAnalysis): number => a.properties.faces[0]?.textureLivenessScore ?? 0;
const passiveLive = (a: ImageAnalysis): boolean => texture(a) >= PASSIVE_DEFAULTS.minScore;

// Genuine photos
const size = Number(process.env.EVAL_SIZE ?? 640);
const photos = await Promise.all(
  rows.map((r) =>
    sharp(readFileSync(join(dir, r.file)))
      .rotate()
      .resize(size, size, { fit: "inside", withoutEnlargement: true })
      .jpeg({ quality: 92 })
      .toBuffer(),
  ),
);
const originals = await analyse(photos);
const genuineTexture = originals.filter((a) => a.geometry).map(texture);

/** The 2D reference direction: where the nose tip sits between the cheeks and eyes/mouth. */
function noseOffset(g: FaceGeometry): { x: number; y: number } {
  const p = (i: number) => ({ x: g.mesh[2 * i] as number, y: g.mesh[2 * i + 1] as number });
  const nose = p(1);
  const [cheekR, cheekL] = [p(234), p(454)];
  const [eyes, mouth] = [p(168), p(13)];
  const across = Math.hypot(cheekL.x - cheekR.x, cheekL.y - cheekR.y);
  const down = Math.hypot(mouth.x - eyes.x, mouth.y - eyes.y);
  // Projections onto the face's own axes (cheek to cheek, eyes to mouth).
  const ux = { x: (cheekL.x - cheekR.x) / across, y: (cheekL.y - cheekR.y) / across };
  const mid = { x: (cheekL.x + cheekR.x) / 2, y: (cheekL.y + cheekR.y) / 2 };
  const vy = { x: (mouth.x - eyes.x) / down, y: (mouth.y - eyes.y) / down };
  const midV = { x: (eyes.x + mouth.x) / 2, y: (eyes.y + mouth.y) / 2 };
  return {
    x: ((nose.x - mid.x) * ux.x + (nose.y - mid.y) * ux.y) / across,
    y: ((nose.x - midV.x) * vy.x + (nose.y - midV.y) * vy.y) / down,
  };
}

// Genuine pairs with a pose change
interface Outcome {
  active: boolean;
  passive: boolean;
  residual: number;
}
const genuine: Outcome[] = [];
let directions = 0;
let directionsAgree = 0;
let directionPairs: [number, number, string][] = [];
const residualsGenuine: number[] = [];
for (let i = 0; i < rows.length; i++) {
  for (let j = 0; j < rows.length; j++) {
    if (i === j || rows[i]?.identity !== rows[j]?.identity) continue;
    const [a, b] = [originals[i], originals[j]] as [ImageAnalysis, ImageAnalysis];
    if (!a.geometry || !b.geometry) continue;
    const m = measureMotion(a.geometry, b.geometry);
    if (!m.moved) continue;
    if (i < j) {
      residualsGenuine.push(m.residual);
      genuine.push({
        active: m.residual >= MOTION_DEFAULTS.minResidual,
        passive: passiveLive(a) && passiveLive(b),
        residual: m.residual,
      });
    }
    // Reference: the nose moves across the face toward the side the head turns to.
    const [na, nb] = [noseOffset(a.geometry), noseOffset(b.geometry)];
    const dx = nb.x - na.x;
    const dy = nb.y - na.y;
    // On the image, the subject's left is the image's right (unmirrored camera).
    const reference =
      Math.abs(dx) >= Math.abs(dy) ? (dx > 0 ? "left" : "right") : dy > 0 ? "down" : "up";
    directions++;
    if (reference === m.moved) directionsAgree++;
    else directionPairs.push([i, j, `${m.moved} vs reference ${reference}`]);
  }
}
directionPairs = directionPairs.slice(0, 10);

// Mirror check: the mirror images of a pair must swap left and right.
const mirrored = await analyse(
  await Promise.all(photos.map((p) => sharp(p).rotate().flop().jpeg({ quality: 92 }).toBuffer())),
);
let mirrorChecked = 0;
let mirrorSwapped = 0;
for (let i = 0; i < rows.length; i++) {
  for (let j = 0; j < rows.length; j++) {
    if (i === j || rows[i]?.identity !== rows[j]?.identity) continue;
    const [a, b, ma, mb] = [originals[i], originals[j], mirrored[i], mirrored[j]];
    if (!a?.geometry || !b?.geometry || !ma?.geometry || !mb?.geometry) continue;
    const m = measureMotion(a.geometry, b.geometry);
    const mm = measureMotion(ma.geometry, mb.geometry);
    if (m.moved !== "left" && m.moved !== "right") continue;
    mirrorChecked++;
    const swapped = { left: "right", right: "left" }[m.moved];
    if (mm.moved === swapped) mirrorSwapped++;
  }
}

// Attacks
const lines: string[] = [];
const attackResiduals: number[] = [];
const attackTexture: number[] = [];
const attackResidualsByMode = new Map<string, number[]>();
for (const mode of ATTACK_MODES) {
  const shots: Buffer[] = [];
  for (let p = 0; p < photos.length; p++) {
    for (let k = 0; k < pairsPerPhoto; k++) {
      shots.push(...(await attackPair(photos[p] as Buffer, mode, 1000 * p + k + 1)));
    }
  }
  const analyses = await analyse(shots);
  let pairs = 0;
  let activeLive = 0;
  let passiveLiveCount = 0;
  let bothLive = 0;
  let noFace = 0;
  for (let i = 0; i < analyses.length; i += 2) {
    const [a, b] = [analyses[i], analyses[i + 1]] as [ImageAnalysis, ImageAnalysis];
    if (!a.geometry || !b.geometry) {
      noFace++;
      continue;
    }
    pairs++;
    const m = measureMotion(a.geometry, b.geometry);
    attackResiduals.push(m.residual);
    attackResidualsByMode.set(mode, [...(attackResidualsByMode.get(mode) ?? []), m.residual]);
    attackTexture.push(texture(a), texture(b));
    const active = m.residual >= MOTION_DEFAULTS.minResidual;
    const passive = passiveLive(a) || passiveLive(b);
    if (active) activeLive++;
    if (passiveLive(a) && passiveLive(b)) passiveLiveCount++;
    if (active && passive) bothLive++;
  }
  lines.push(
    `| ${mode} | ${pairs} (${noFace} without a face) | ${pct(activeLive / pairs)} (${activeLive}) | ${pct(passiveLiveCount / pairs)} (${passiveLiveCount}) | ${pct(bothLive / pairs)} (${bothLive}) |`,
  );
}
await pool.close();

const sorted = (v: number[]) => [...v].sort((x, y) => x - y);
const q = (v: number[], p: number) => sorted(v)[Math.min(v.length - 1, Math.floor(p * v.length))];
console.log(
  `photos scaled to fit ${size} px; passive minScore ${PASSIVE_DEFAULTS.minScore}, active minResidual ${MOTION_DEFAULTS.minResidual}, minMovementDegrees ${MOTION_DEFAULTS.minMovementDegrees}; ${photos.length} photos, ${pairsPerPhoto} attack pairs per photo and mode\n`,
);
console.log(
  "| attack mode | pairs | active: live | passive: both shots live | active and passive: live |",
);
console.log("| --- | --- | --- | --- | --- |");
for (const l of lines) console.log(l);
const activeNot = genuine.filter((g) => !g.active).length;
const passiveNot = genuine.filter((g) => !g.passive).length;
console.log(
  `\ngenuine pose-change pairs: ${genuine.length}; not live by active ${pct(activeNot / genuine.length)} (${activeNot}), by passive ${pct(passiveNot / genuine.length)} (${passiveNot})`,
);
console.log(
  `residual (share of eye distance): attacks p50 ${q(attackResiduals, 0.5)?.toFixed(4)} p99 ${q(attackResiduals, 0.99)?.toFixed(4)} max ${q(attackResiduals, 1)?.toFixed(4)}; genuine p1 ${q(residualsGenuine, 0.01)?.toFixed(4)} p5 ${q(residualsGenuine, 0.05)?.toFixed(4)} p50 ${q(residualsGenuine, 0.5)?.toFixed(4)}`,
);
console.log(
  `texture score: genuine photos p5 ${q(genuineTexture, 0.05)?.toFixed(3)} p50 ${q(genuineTexture, 0.5)?.toFixed(3)}; attack shots p50 ${q(attackTexture, 0.5)?.toFixed(3)} p95 ${q(attackTexture, 0.95)?.toFixed(3)}`,
);
const attackByMode = new Map<string, number[]>();
for (const [mode, r] of attackResidualsByMode) attackByMode.set(mode, r);
for (const t of [0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05]) {
  const modes = [...attackByMode].map(
    ([mode, r]) => `${mode} ${pct(r.filter((x) => x >= t).length / r.length)}`,
  );
  console.log(
    `  active at residual ${t}: genuine pairs not live ${pct(residualsGenuine.filter((r) => r < t).length / residualsGenuine.length)}; attacks live: ${modes.join(", ")}`,
  );
}
for (const t of [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]) {
  console.log(
    `  passive at ${t}: genuine photos not live ${pct(genuineTexture.filter((s) => s < t).length / genuineTexture.length)}, attack shots live ${pct(attackTexture.filter((s) => s >= t).length / attackTexture.length)}`,
  );
}
console.log(
  `directions (ordered genuine pairs): ${pct(directionsAgree / directions)} agree with the 2D nose reference (${directionsAgree} of ${directions}); mirror images swap left/right in ${pct(mirrorSwapped / mirrorChecked)} (${mirrorSwapped} of ${mirrorChecked})`,
);
for (const [i, j, why] of directionPairs)
  console.log(`  ${rows[i]?.file} -> ${rows[j]?.file}: ${why}`);
