/**
 * Calibration of the face pipeline's thresholds (not a test). Usage:
 *
 *   npx tsx bench/face-calibrate.ts <lfw-dir> [part...]
 *
 * `<lfw-dir>` holds `pairs.tsv` (fileA, fileB, same) and the images it names, e.g. the LFW
 * folds 1-5 development set or a user's own LFW copy. Parts (default all):
 * - `encoders`: EER on the pairs, 5-fold accuracy, and over all cross-identity pairs of the
 *   images the distance at 1%, 0.1% and 0.01% false accepts with the genuine pairs accepted
 *   there, for encoder 1 and 2, Euclidean and cosine; genuine rejections by head pose.
 * - `rotation`: how often upright LFW photos are turned, and how often photos turned by 90, 180
 *   and 270 degrees (the first 600) come back upright.
 * - `degrade`: the fixture portraits degraded (smaller, blurred, darker, brighter, cut by the
 *   border): the quality measures against detection and genuine acceptance at the threshold.
 *
 * Runs one engine per core in child processes; prints the numbers src/face/README.md quotes.
 */
import { fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { decodeDefaults } from "../src/face/decode.js";
import { cosineDistance, euclideanDistance, getEncoder } from "../src/face/encoders.js";
import { createFaceEngine } from "../src/face/engine.js";
import { resolveModelPaths } from "../src/face/model-files.js";
import { analyzeImage, type PipelineOptions, type PipelineResult } from "../src/face/pipeline.js";
import { QUALITY_DEFAULTS } from "../src/face/quality.js";
import { ROTATION_DEFAULTS } from "../src/face/rotation.js";
import { loadWarmupSample } from "../src/face/warmup-sample.js";
import { equalErrorRate } from "../test/face/fixtures.js";

/** One unit of work for a child: analyse `file` (optionally degraded or turned). */
interface Task {
  key: string;
  file: string;
  encoderVersion: number;
  /** Pixel transformation applied before analysis. */
  variant?:
    | { kind: "turn"; degrees: number }
    | { kind: "scale"; eyeDistance: number; originalEyeDistance: number }
    | { kind: "blur"; sigma: number }
    | { kind: "gamma"; gamma: number }
    | { kind: "cut"; left: number };
}

/** What a child sends back per task. */
interface Outcome {
  key: string;
  /** The primary face's box in input pixels. */
  box?: { x: number; width: number };
  vector?: number[];
  faces: number;
  rotated: number;
  measures?: PipelineResult["measures"];
  suitable: boolean;
  error?: string;
}

const FIXTURES = fileURLToPath(new URL("../test/fixtures/faces/", import.meta.url));
const OPTIONS: PipelineOptions = {
  decode: decodeDefaults(),
  detect: { minEyeDistance: 0 },
  rotation: ROTATION_DEFAULTS,
  // measure everything: nothing is unsuitable during calibration
  quality: { ...QUALITY_DEFAULTS, minEyeDistance: 0, maxYaw: 90, minVisible: 0 },
};

async function variantBytes(task: Task): Promise<Uint8Array> {
  const bytes = readFileSync(task.file);
  const v = task.variant;
  if (!v) return new Uint8Array(bytes);
  const image = sharp(bytes);
  const meta = await image.metadata();
  let out: Buffer;
  switch (v.kind) {
    case "turn":
      out = await image.rotate(v.degrees).png().toBuffer();
      break;
    case "scale": {
      const width = Math.max(16, Math.round((meta.width * v.eyeDistance) / v.originalEyeDistance));
      out = await image.resize({ width }).png().toBuffer();
      break;
    }
    case "blur":
      out = await image.blur(v.sigma).png().toBuffer();
      break;
    case "gamma": {
      // brightness through a power curve on 0..1: gamma < 1 brightens, > 1 darkens
      const { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
      const lut = Array.from({ length: 256 }, (_, i) => Math.round(255 * (i / 255) ** v.gamma));
      for (let i = 0; i < data.length; i++) data[i] = lut[data[i] as number] as number;
      out = await sharp(data, { raw: info }).png().toBuffer();
      break;
    }
    case "cut":
      // the image from `left` on: the face's left part is outside
      out = await image
        .extract({ left: v.left, top: 0, width: meta.width - v.left, height: meta.height })
        .png()
        .toBuffer();
      break;
  }
  return new Uint8Array(out);
}

/** Runs tasks over one child process per core. */
async function run(tasks: Task[]): Promise<Map<string, Outcome>> {
  const shards = availableParallelism();
  const results = new Map<string, Outcome>();
  await Promise.all(
    Array.from({ length: shards }, (_, shard) => {
      const mine = tasks.filter((_, i) => i % shards === shard);
      return new Promise<void>((resolve, reject) => {
        const child = fork(fileURLToPath(import.meta.url), ["--child"], {
          stdio: ["ignore", "ignore", "inherit", "ipc"],
        });
        child.on("message", (m: Outcome | "ready" | "done") => {
          if (m === "ready") child.send(mine);
          else if (m === "done") {
            child.kill();
            resolve();
          } else results.set(m.key, m);
        });
        child.on("exit", (code) => (code ? reject(new Error(`child exited ${code}`)) : resolve()));
      });
    }),
  );
  return results;
}

const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
const quantile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

function foldAccuracy(distances: { d: number; same: boolean; fold: number }[]): number[] {
  const folds = [...new Set(distances.map((x) => x.fold))];
  return folds.map((fold) => {
    const train = distances.filter((x) => x.fold !== fold);
    const test = distances.filter((x) => x.fold === fold);
    const accuracy = (set: typeof distances, t: number) =>
      set.filter((x) => x.d <= t === x.same).length / set.length;
    let best = { t: 0, acc: 0 };
    for (const x of train) {
      const acc = accuracy(train, x.d);
      if (acc > best.acc) best = { t: x.d, acc };
    }
    return accuracy(test, best.t);
  });
}

async function encoders(lfw: string): Promise<void> {
  const pairs = readFileSync(join(lfw, "pairs.tsv"), "utf8")
    .trim()
    .split("\n")
    .slice(1)
    .map((line, i) => {
      const [a = "", b = "", same = ""] = line.split("\t");
      return { a, b, same: same === "1", fold: Math.floor(i / 600) };
    });
  const files = [...new Set(pairs.flatMap((p) => [p.a, p.b]))];
  for (const version of [2, 1]) {
    const out = await run(
      files.map((f) => ({ key: f, file: join(lfw, f), encoderVersion: version })),
    );
    const vectors = new Map<string, Float32Array>();
    for (const [key, o] of out) if (o.vector) vectors.set(key, Float32Array.from(o.vector));
    console.log(
      `\nencoder ${version} (${getEncoder(version).name}): features for ${vectors.size} of ${files.length} images`,
    );
    for (const [metricName, metric] of [
      ["euclidean", euclideanDistance],
      ["cosine", cosineDistance],
    ] as const) {
      const scored = pairs.flatMap((p) => {
        const a = vectors.get(p.a);
        const b = vectors.get(p.b);
        return a && b ? [{ d: metric(a, b), same: p.same, fold: p.fold }] : [];
      });
      const e = equalErrorRate(
        scored.filter((x) => x.same).map((x) => x.d),
        scored.filter((x) => !x.same).map((x) => x.d),
      );
      const accs = foldAccuracy(scored);
      const mean = accs.reduce((s, a) => s + a, 0) / accs.length;
      const sd = Math.sqrt(accs.reduce((s, a) => s + (a - mean) ** 2, 0) / accs.length);
      // all cross-identity pairs of the images with features
      const keys = [...vectors.keys()];
      const identity = (k: string) => k.split("/").at(-2) ?? k;
      const impostor: number[] = [];
      const genuine: number[] = [];
      for (let i = 0; i < keys.length; i++) {
        const a = vectors.get(keys[i] as string) as Float32Array;
        for (let j = i + 1; j < keys.length; j++) {
          const d = metric(a, vectors.get(keys[j] as string) as Float32Array);
          (identity(keys[i] as string) === identity(keys[j] as string) ? genuine : impostor).push(
            d,
          );
        }
      }
      impostor.sort((x, y) => x - y);
      const at = [0.01, 0.001, 0.0001].map((far) => {
        const t = quantile(impostor, far);
        return `FAR ${far * 100}%: d=${t.toFixed(4)} TAR ${pct(genuine.filter((d) => d <= t).length / genuine.length)}`;
      });
      console.log(
        `  ${metricName}: ${scored.length} of ${pairs.length} pairs with features on both sides: EER ${pct(e.rate)} at d=${e.threshold.toFixed(4)}, accuracy ${pct(mean)} ± ${pct(sd)} (${accs.length} folds); ${impostor.length} impostor / ${genuine.length} genuine cross pairs: ${at.join("; ")}`,
      );
    }
    if (version === 2) {
      // genuine rejections at the threshold by the larger |angle| of the two photos
      const encoder = getEncoder(2);
      for (const axis of ["yaw", "pitch", "roll"] as const) {
        const buckets = [0, 10, 20, 30, 45, 90];
        const rows = buckets.slice(0, -1).map((lo, i) => {
          const hi = buckets[i + 1] as number;
          const inBucket = pairs.filter((p) => {
            if (!p.same || !vectors.has(p.a) || !vectors.has(p.b)) return false;
            const angle = Math.max(
              Math.abs(out.get(p.a)?.measures?.pose[axis] ?? 999),
              Math.abs(out.get(p.b)?.measures?.pose[axis] ?? 999),
            );
            return angle >= lo && angle < hi;
          });
          const rejected = inBucket.filter(
            (p) =>
              encoder.distance(
                vectors.get(p.a) as Float32Array,
                vectors.get(p.b) as Float32Array,
              ) >= encoder.threshold,
          ).length;
          return `${lo}-${hi}: ${rejected}/${inBucket.length}`;
        });
        console.log(
          `  genuine pairs rejected at ${encoder.threshold} by |${axis}|: ${rows.join(", ")}`,
        );
      }
      const measures = [...out.values()].flatMap((o) => (o.measures ? [o.measures] : []));
      for (const [name, get] of [
        ["eye distance px", (m: NonNullable<Outcome["measures"]>) => m.eyeDistance],
        ["|yaw|", (m: NonNullable<Outcome["measures"]>) => Math.abs(m.pose.yaw)],
        ["|pitch|", (m: NonNullable<Outcome["measures"]>) => Math.abs(m.pose.pitch)],
        ["|roll|", (m: NonNullable<Outcome["measures"]>) => Math.abs(m.pose.roll)],
        ["sharpness", (m: NonNullable<Outcome["measures"]>) => m.sharpness],
        ["brightness", (m: NonNullable<Outcome["measures"]>) => m.brightness],
        ["clipped", (m: NonNullable<Outcome["measures"]>) => m.clipped],
      ] as const) {
        const v = measures.map(get).sort((a, b) => a - b);
        const q = [0.01, 0.05, 0.5, 0.95, 0.99].map((p) => quantile(v, p).toFixed(2));
        console.log(`  LFW ${name}: 1% ${q[0]} 5% ${q[1]} 50% ${q[2]} 95% ${q[3]} 99% ${q[4]}`);
      }
    }
  }
}

async function rotation(lfw: string): Promise<void> {
  const files = [
    ...new Set(
      readFileSync(join(lfw, "pairs.tsv"), "utf8")
        .trim()
        .split("\n")
        .slice(1)
        .flatMap((l) => l.split("\t").slice(0, 2)),
    ),
  ];
  const tasks: Task[] = files.map((f) => ({
    key: `0 ${f}`,
    file: join(lfw, f),
    encoderVersion: 2,
  }));
  for (const degrees of [90, 180, 270]) {
    for (const f of files.slice(0, 600)) {
      tasks.push({
        key: `${degrees} ${f}`,
        file: join(lfw, f),
        encoderVersion: 2,
        variant: { kind: "turn", degrees },
      });
    }
  }
  const out = await run(tasks);
  console.log("\nrotation (LFW):");
  for (const degrees of [0, 90, 180, 270]) {
    const mine = [...out.entries()].filter(([k]) => k.startsWith(`${degrees} `));
    const found = mine.filter(([, o]) => o.faces > 0);
    const right = found.filter(([, o]) => o.rotated === (360 - degrees) % 360);
    console.log(
      `  turned ${degrees}: ${found.length}/${mine.length} with a face, rotated right ${right.length} (${pct(right.length / found.length)}), wrong ${found.length - right.length}`,
    );
  }
}

async function degrade(): Promise<void> {
  const rows = readFileSync(join(FIXTURES, "labels.tsv"), "utf8").trim().split("\n").slice(1);
  const people = rows
    .map((r) => r.split("\t"))
    .filter((r) => r[2] === "1" && (r[0] ?? "").startsWith("people/"))
    .map((r) => ({ file: join(FIXTURES, r[0] as string), identity: r[1] as string }));
  const originals = await run(
    people.map((p) => ({ key: p.file, file: p.file, encoderVersion: 2 })),
  );
  const encoder = getEncoder(2);
  const vector = (o?: Outcome) => (o?.vector ? Float32Array.from(o.vector) : undefined);
  const tasks: Task[] = [];
  for (const p of people) {
    const ied = originals.get(p.file)?.measures?.eyeDistance ?? 0;
    if (!ied) continue;
    for (const eyeDistance of [8, 12, 16, 20, 25, 30, 40, 60]) {
      if (eyeDistance < ied) {
        tasks.push({
          key: `scale ${eyeDistance} ${p.file}`,
          file: p.file,
          encoderVersion: 2,
          variant: { kind: "scale", eyeDistance, originalEyeDistance: ied },
        });
      }
    }
    for (const sigma of [1, 2, 3, 4, 6]) {
      tasks.push({
        key: `blur ${sigma} ${p.file}`,
        file: p.file,
        encoderVersion: 2,
        variant: { kind: "blur", sigma },
      });
    }
    for (const gamma of [0.25, 0.4, 0.6, 1.6, 2.5, 4]) {
      tasks.push({
        key: `gamma ${gamma} ${p.file}`,
        file: p.file,
        encoderVersion: 2,
        variant: { kind: "gamma", gamma },
      });
    }
    const box = originals.get(p.file)?.box;
    for (const share of [0.1, 0.2, 0.3, 0.4]) {
      const left = box ? Math.round(box.x + share * box.width) : 0;
      if (left > 0) {
        tasks.push({
          key: `cut ${share} ${p.file}`,
          file: p.file,
          encoderVersion: 2,
          variant: { kind: "cut", left },
        });
      }
    }
  }
  const out = await run(tasks);
  console.log(`\ndegraded fixture portraits (encoder 2, threshold ${encoder.threshold}):`);
  console.log(
    "  variant: faces found | median measure | median distance to own original | genuine pairs accepted (vs other photos of the person)",
  );
  const baseline = acceptance(
    people,
    (p) => vector(originals.get(p.file)),
    originals,
    people,
    encoder,
  );
  console.log(`  original: genuine accepted ${pct(baseline)}`);
  // faces cut by the border, by the share of their mesh inside the image
  const cuts = people.flatMap((p) =>
    [0.1, 0.2, 0.3, 0.4].flatMap((share) => {
      const o = out.get(`cut ${share} ${p.file}`);
      return o ? [{ p, o }] : [];
    }),
  );
  for (const [lo, hi] of [
    [0.95, 1.01],
    [0.9, 0.95],
    [0.8, 0.9],
    [0, 0.8],
  ] as const) {
    const mine = cuts.filter(
      ({ o }) => (o.measures?.visible ?? 0) >= lo && (o.measures?.visible ?? 0) < hi,
    );
    let accepted = 0;
    let total = 0;
    for (const { p, o } of mine) {
      for (const other of people) {
        if (other.identity !== p.identity || other.file === p.file) continue;
        const v = originals.get(other.file)?.vector;
        if (!v) continue;
        total++;
        if (
          o.vector &&
          encoder.distance(Float32Array.from(o.vector), Float32Array.from(v)) < encoder.threshold
        )
          accepted++;
      }
    }
    console.log(
      `  cut, face inside ${lo}-${Math.min(1, hi)}: ${mine.length} photos, genuine accepted ${pct(accepted / total)} of ${total}`,
    );
  }
  const groups = [...new Set(tasks.map((t) => t.key.split(" ").slice(0, 2).join(" ")))];
  for (const group of groups) {
    const mine = people.filter((p) => out.has(`${group} ${p.file}`));
    const outcomes = mine.map((p) => out.get(`${group} ${p.file}`) as Outcome);
    const found = outcomes.filter((o) => o.vector);
    const drift = mine
      .flatMap((p) => {
        const a = vector(originals.get(p.file));
        const b = vector(out.get(`${group} ${p.file}`));
        return a && b ? [encoder.distance(a, b)] : [];
      })
      .sort((a, b) => a - b);
    const kind = group.split(" ")[0];
    const measure = outcomes
      .flatMap((o) => {
        const m = o.measures;
        if (!m) return [];
        const byKind: Record<string, number> = {
          scale: m.eyeDistance,
          blur: m.sharpness,
          gamma: m.brightness,
          cut: m.visible,
        };
        return [byKind[kind ?? ""] ?? Number.NaN];
      })
      .sort((a, b) => a - b);
    const accepted = acceptance(
      mine,
      (p) => vector(out.get(`${group} ${p.file}`)),
      originals,
      people,
      encoder,
    );
    console.log(
      `  ${group}: ${found.length}/${mine.length} | ${{ scale: "eye distance", blur: "sharpness", gamma: "brightness", cut: "visible" }[kind ?? ""]} ${quantile(measure, 0.5).toFixed(1)} (clipped ${quantile(
        outcomes.flatMap((o) => (o.measures ? [o.measures.clipped] : [])).sort((a, b) => a - b),
        0.5,
      ).toFixed(3)}) | drift ${quantile(drift, 0.5).toFixed(3)} | accepted ${pct(accepted)}`,
    );
  }
}

/** Share of genuine pairs (probe variant vs the other original photos of the person) accepted. */
function acceptance(
  probes: { file: string; identity: string }[],
  probeVector: (p: { file: string; identity: string }) => Float32Array | undefined,
  originals: Map<string, Outcome>,
  people: { file: string; identity: string }[],
  encoder: ReturnType<typeof getEncoder>,
): number {
  let accepted = 0;
  let total = 0;
  for (const p of probes) {
    const v = probeVector(p);
    for (const other of people) {
      if (other.identity !== p.identity || other.file === p.file) continue;
      const o = originals.get(other.file)?.vector;
      if (!o) continue;
      total++;
      if (v && encoder.distance(v, Float32Array.from(o)) < encoder.threshold) accepted++;
    }
  }
  return total === 0 ? Number.NaN : accepted / total;
}

async function main(): Promise<void> {
  const [lfw, ...parts] = process.argv.slice(2);
  if (!lfw) {
    console.error(
      "usage: npx tsx bench/face-calibrate.ts <lfw-dir> [encoders|rotation|degrade]...",
    );
    process.exit(2);
  }
  const want = (part: string) => parts.length === 0 || parts.includes(part);
  if (want("degrade")) await degrade();
  if (want("rotation")) await rotation(lfw);
  if (want("encoders")) await encoders(lfw);
}

// ---------------------------------------------------------------- child process: analyse tasks
if (process.argv[2] === "--child") {
  const engine = await createFaceEngine();
  await engine.warmUp(await loadWarmupSample(resolveModelPaths().humanPackage));
  process.on("message", async (tasks: Task[]) => {
    for (const task of tasks) {
      try {
        const bytes = await variantBytes(task);
        const r = await analyzeImage(
          engine,
          bytes,
          { encoderVersion: task.encoderVersion, thumbnails: false },
          OPTIONS,
        );
        const outcome: Outcome = {
          key: task.key,
          faces: r.analysis.properties.faces.length,
          rotated: r.analysis.properties.rotated,
          suitable: r.analysis.features !== undefined,
        };
        if (r.analysis.features) outcome.vector = Array.from(r.analysis.features.vector);
        if (r.measures) outcome.measures = r.measures;
        const face = r.analysis.properties.faces[0];
        if (face) outcome.box = { x: face.box.x, width: face.box.width };
        process.send?.(outcome);
      } catch (err) {
        process.send?.({
          key: task.key,
          faces: 0,
          rotated: 0,
          suitable: false,
          error: String(err),
        });
      }
    }
    process.send?.("done");
  });
  process.send?.("ready");
} else {
  await main();
}
