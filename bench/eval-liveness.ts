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
import {
  measurePixelParallax,
  PARALLAX_DEFAULTS,
  type PixelParallax,
} from "../src/face/pixel-parallax.js";
import type { FaceGeometry, FacePatch, ImageAnalysis } from "../src/face/types.js";
import { mulberry32 } from "../test/support/search-reference.js";
import { fixtureDir } from "./bench-support.js";
import { headTurnPair, outlineOfMesh, type TurnDirection } from "./head-turn.js";
import { pct } from "./lfw-support.js";
import { ATTACK_MODES, attackPair } from "./liveness-attacks.js";

const dir = process.argv[2] ?? fixtureDir;
const pairsPerPhoto = Number(process.argv[3] ?? 2);
/**
 * EVAL_SEED=k draws other attacks and head turns (k = 0 is the default run): a bar chosen on one
 * run is checked on pairs it was not chosen on.
 */
// 100,001 per step: the seeds move past every photo's own (< 100,000) and the turns' directions
// (chosen by (photo + base) % 4) shift by one.
const seedBase = 100_001 * Number(process.env.EVAL_SEED ?? 0);

const rows = readFileSync(join(dir, "labels.tsv"), "utf8")
  .trim()
  .split("\n")
  .slice(1)
  .map((r) => r.split("\t"))
  .filter(([file, identity, faces]) => file?.startsWith("people/") && identity && faces === "1")
  .map(([file, identity]) => ({ file: file as string, identity: identity as string }))
  // EVAL_EVERY=k keeps every k-th photo: a quicker, smaller run on a busy machine.
  .filter((_, i) => i % Number(process.env.EVAL_EVERY ?? 1) === 0);

const pool = createFacePool({ workers: Number(process.env.EVAL_WORKERS ?? 1), maxQueue: 64 });
await pool.ready();
const analyse = async (images: Uint8Array[]): Promise<ImageAnalysis[]> => {
  const out: ImageAnalysis[] = [];
  for (let i = 0; i < images.length; i += 16) {
    // Copies: the pool hands the bytes over to its workers.
    out.push(
      ...(await pool.analyze(
        images.slice(i, i + 16).map((b) => Uint8Array.from(b)),
        { patches: true },
      )),
    );
  }
  return out;
};
const texture = (a: ImageAnalysis): number => a.properties.faces[0]?.textureLivenessScore ?? 0;
const passiveLive = (a: ImageAnalysis): boolean => texture(a) >= PASSIVE_DEFAULTS.minScore;
/**
 * The mesh measure (the older mode) for the sections that report it; the pixel measure is taken
 * separately below so that each pair is tracked once.
 */
const MESH = { ...MOTION_DEFAULTS, evidence: "mesh" as const };
/** Milliseconds of every pixel-parallax measurement, for the per-call cost. */
const pixelMs: number[] = [];
const pixel = (a: FaceGeometry, b: FaceGeometry): PixelParallax | undefined => {
  if (!a.patch || !b.patch) return undefined;
  const t = performance.now();
  const p = measurePixelParallax(a.patch, b.patch);
  pixelMs.push(performance.now() - t);
  if (process.env.EVAL_PATCHES) patchesOf.set(p, [a.patch, b.patch]);
  return p;
};
/** Raw per-pair measures, written to `EVAL_DUMP` (a JSON file) when set, for offline sweeps. */
const dump: Record<string, unknown>[] = [];
/**
 * The two face patches behind each pixel measure, written with the dump to `EVAL_PATCHES` when
 * set: new pixel measures can then be tried on the same pairs without running the models again.
 */
const patchesOf = new WeakMap<PixelParallax, [FacePatch, FacePatch]>();

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
  pixel: PixelParallax | undefined;
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
    const m = measureMotion(a.geometry, b.geometry, MESH);
    if (!m.moved) continue;
    if (i < j) {
      residualsGenuine.push(m.residual);
      const px = pixel(a.geometry, b.geometry);
      genuine.push({
        active: m.residual >= MOTION_DEFAULTS.minResidual,
        passive: passiveLive(a) && passiveLive(b),
        residual: m.residual,
        pixel: px,
      });
      dump.push({ kind: "genuine-photos", i, j, mesh: m.residual, pixel: px });
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
    const m = measureMotion(a.geometry, b.geometry, MESH);
    const mm = measureMotion(ma.geometry, mb.geometry, MESH);
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
const attackPixelByMode = new Map<string, { mesh: number; pixel: PixelParallax | undefined }[]>();
for (const mode of ATTACK_MODES) {
  const shots: Buffer[] = [];
  for (let p = 0; p < photos.length; p++) {
    for (let k = 0; k < pairsPerPhoto; k++) {
      shots.push(...(await attackPair(photos[p] as Buffer, mode, seedBase + 1000 * p + k + 1)));
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
    const m = measureMotion(a.geometry, b.geometry, MESH);
    attackResiduals.push(m.residual);
    attackResidualsByMode.set(mode, [...(attackResidualsByMode.get(mode) ?? []), m.residual]);
    attackTexture.push(texture(a), texture(b));
    const px = pixel(a.geometry, b.geometry);
    attackPixelByMode.set(mode, [
      ...(attackPixelByMode.get(mode) ?? []),
      { mesh: m.residual, pixel: px },
    ]);
    dump.push({ kind: `attack-${mode}`, i, mesh: m.residual, pixel: px });
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
// Synthetic head turns (bench/head-turn.ts): each photo and a copy re-rendered with the head
// turned 5-15 degrees, the four directions in turn. The only genuine pairs whose pixels can be
// followed: the fixtures hold no two frames of one capture.
const turnDirections: TurnDirection[] = ["left", "right", "up", "down"];
const turnShots: Buffer[] = [];
const turnTruth: { direction: TurnDirection; degrees: number; photo: number }[] = [];
for (let p = 0; p < photos.length; p++) {
  const g = originals[p]?.geometry;
  if (!g) continue;
  const random = mulberry32(seedBase + 5000 + p);
  const direction = turnDirections[(p + seedBase) % 4] as TurnDirection;
  const degrees = 5 + random() * 10;
  turnShots.push(
    ...(await headTurnPair(
      photos[p] as Buffer,
      outlineOfMesh(g),
      direction,
      degrees,
      seedBase + 7000 + p,
    )),
  );
  turnTruth.push({ direction, degrees, photo: p });
}
const turnAnalyses = await analyse(turnShots);
interface TurnOutcome {
  truth: TurnDirection;
  degrees: number;
  mesh: number;
  meshMoved: string | undefined;
  /** The direction read from the 2D mesh (nose between cheeks, eyes and mouth). */
  nose2d: string;
  pixel: PixelParallax | undefined;
}
const turns: TurnOutcome[] = [];
let turnsNoFace = 0;
turnTruth.forEach((t, k) => {
  const [a, b] = [turnAnalyses[2 * k], turnAnalyses[2 * k + 1]];
  if (!a?.geometry || !b?.geometry) {
    turnsNoFace++;
    return;
  }
  const m = measureMotion(a.geometry, b.geometry, MESH);
  const px = pixel(a.geometry, b.geometry);
  const [na, nb] = [noseOffset(a.geometry), noseOffset(b.geometry)];
  const [dx, dy] = [nb.x - na.x, nb.y - na.y];
  const nose2d =
    Math.abs(dx) >= Math.abs(dy) ? (dx > 0 ? "left" : "right") : dy > 0 ? "down" : "up";
  turns.push({
    nose2d,
    truth: t.direction,
    degrees: t.degrees,
    mesh: m.residual,
    meshMoved: m.moved,
    pixel: px,
  });
  dump.push({
    kind: "turn",
    ...t,
    mesh: m.residual,
    meshMoved: m.moved,
    yaw: m.yaw,
    pitch: m.pitch,
    pixel: px,
  });
});
await pool.close();

const sorted = (v: number[]) => [...v].sort((x, y) => x - y);
const q = (v: number[], p: number) => sorted(v)[Math.min(v.length - 1, Math.floor(p * v.length))];
console.log(
  `photos scaled to fit ${size} px; passive minScore ${PASSIVE_DEFAULTS.minScore}, active minResidual ${MOTION_DEFAULTS.minResidual}, minMovementDegrees ${MOTION_DEFAULTS.minMovementDegrees}; ${photos.length} photos, ${pairsPerPhoto} attack pairs per photo and mode\n`,
);
console.log(
  "| attack mode | pairs | active (mesh): live | passive: both shots live | active (mesh) and passive: live |",
);
console.log("| --- | --- | --- | --- | --- |");
for (const l of lines) console.log(l);
const activeNot = genuine.filter((g) => !g.active).length;
const passiveNot = genuine.filter((g) => !g.passive).length;
console.log(
  `\ngenuine pose-change pairs: ${genuine.length}; not live by active (mesh) ${pct(activeNot / genuine.length)} (${activeNot}), by passive ${pct(passiveNot / genuine.length)} (${passiveNot})`,
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

// Pixel parallax (src/face/pixel-parallax.ts)
const trackable = (p: PixelParallax | undefined): p is PixelParallax => !!p?.trackable;
console.log(
  `\npixel parallax: minTracked ${PARALLAX_DEFAULTS.minTracked}, minTrackedShare ${PARALLAX_DEFAULTS.minTrackedShare}; cost per pair p50 ${q(pixelMs, 0.5)?.toFixed(1)} ms p95 ${q(pixelMs, 0.95)?.toFixed(1)} ms max ${q(pixelMs, 1)?.toFixed(1)} ms (${pixelMs.length} pairs, main thread)`,
);
const trackShare = (v: (PixelParallax | undefined)[]) =>
  `${pct(v.filter(trackable).length / v.length)} trackable (tracked points p50 ${q(
    v.map((p) => p?.tracked ?? 0),
    0.5,
  )}, of candidates p50 ${q(
    v.map((p) => p?.candidates ?? 0),
    0.5,
  )})`;
console.log(
  `  genuine photo pairs (two different photos): ${trackShare(genuine.map((g) => g.pixel))}`,
);
for (const [mode, v] of attackPixelByMode) {
  const r = v
    .map((x) => x.pixel)
    .filter(trackable)
    .map((p) => p.residual);
  console.log(
    `  attack ${mode}: ${trackShare(v.map((x) => x.pixel))}; residual p50 ${q(r, 0.5)?.toFixed(4)} p99 ${q(r, 0.99)?.toFixed(4)} max ${q(r, 1)?.toFixed(4)}`,
  );
}
const turnR = turns
  .map((t) => t.pixel)
  .filter(trackable)
  .map((p) => p.residual);
console.log(
  `  synthetic head turns (5-15 degrees): ${turns.length} pairs (${turnsNoFace} without a face), ${trackShare(turns.map((t) => t.pixel))}; residual p1 ${q(turnR, 0.01)?.toFixed(4)} p5 ${q(turnR, 0.05)?.toFixed(4)} p50 ${q(turnR, 0.5)?.toFixed(4)}`,
);
for (const t of [
  ...new Set([0.008, 0.009, 0.01, MOTION_DEFAULTS.minPixelResidual, 0.012, 0.015]),
]) {
  const liveAttack = (x: { mesh: number; pixel: PixelParallax | undefined }, fallback: boolean) =>
    trackable(x.pixel) ? x.pixel.residual >= t : fallback && x.mesh >= MOTION_DEFAULTS.minResidual;
  const modes = (fallback: boolean) =>
    [...attackPixelByMode]
      .map(([mode, v]) => {
        const n = v.filter((x) => liveAttack(x, fallback)).length;
        return `${mode} ${pct(n / v.length)} (${n})`;
      })
      .join(", ");
  const genuineNot = (fallback: boolean) =>
    genuine.filter((g) => !liveAttack({ mesh: g.residual, pixel: g.pixel }, fallback)).length;
  const turnsNot = (fallback: boolean) =>
    turns.filter((g) => !liveAttack({ mesh: g.mesh, pixel: g.pixel }, fallback)).length;
  for (const fallback of [false, true]) {
    console.log(
      `  pixel residual ${t}, untracked ${fallback ? "falls back to the mesh" : "is not live"}: attacks live: ${modes(fallback)}; genuine photo pairs not live ${pct(genuineNot(fallback) / genuine.length)} (${genuineNot(fallback)}); synthetic turns not live ${pct(turnsNot(fallback) / turns.length)} (${turnsNot(fallback)})`,
    );
  }
}
// Directions on the synthetic turns, against the direction they were rendered with.
const noseDirection = (p: PixelParallax): string =>
  Math.abs(p.noseShift.x) >= Math.abs(p.noseShift.y)
    ? p.noseShift.x > 0
      ? "left"
      : "right"
    : p.noseShift.y > 0
      ? "down"
      : "up";
const meshRight = turns.filter((t) => t.meshMoved === t.truth).length;
const meshNone = turns.filter((t) => t.meshMoved === undefined).length;
const nose2dRight = turns.filter((t) => t.nose2d === t.truth).length;
const tracked = turns.filter((t) => trackable(t.pixel));
const pixelRight = tracked.filter(
  (t) => noseDirection(t.pixel as PixelParallax) === t.truth,
).length;
console.log(
  `  synthetic turn directions: mesh pose ${pct(meshRight / turns.length)} right (${meshRight} of ${turns.length}; ${meshNone} below ${MOTION_DEFAULTS.minMovementDegrees} degrees), tracked nose shift ${pct(pixelRight / tracked.length)} right (${pixelRight} of ${tracked.length} trackable), 2D mesh nose reference ${pct(nose2dRight / turns.length)} right (${nose2dRight} of ${turns.length})`,
);
if (process.env.EVAL_DUMP) {
  const { writeFileSync } = await import("node:fs");
  writeFileSync(process.env.EVAL_DUMP, JSON.stringify(dump));
}
if (process.env.EVAL_PATCHES) {
  const { writeFileSync } = await import("node:fs");
  const asJson = (p: FacePatch) => ({
    size: p.size,
    eyeDistance: p.eyeDistance,
    pixels: Buffer.from(p.pixels).toString("base64"),
    mesh: Array.from(p.mesh),
  });
  const pairs = dump.flatMap((d) => {
    const patches = d.pixel ? patchesOf.get(d.pixel as PixelParallax) : undefined;
    return patches ? [{ ...d, a: asJson(patches[0]), b: asJson(patches[1]) }] : [];
  });
  writeFileSync(process.env.EVAL_PATCHES, JSON.stringify(pairs));
}
