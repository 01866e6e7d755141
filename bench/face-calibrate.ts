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
 * - `primary`: which face of a photo with several is the labelled person, and the encoders on the
 *   labelled faces.
 * - `fusion` (only when named): encoder 3's alignment variants and the fusion of encoders 2 and 3
 *   on the labelled faces (CALIBRATE_FUSE, CALIBRATE_WEIGHTS choose what is fused).
 * - `candidates` (only when named): other face-recognition weights as tfjs graph models,
 *   CALIBRATE_CANDIDATES=<model.json>[@bgr][@byte|@unit],... (default RGB, inputs
 *   (p - 127.5) / 128; `@byte` feeds 0-255, `@unit` 0-1), run on encoder 4's 112x112 crop of the
 *   labelled faces: alone, flip-averaged, and fused with encoder 4 (CALIBRATE_WEIGHTS).
 * - `rotation`: how often upright LFW photos are turned, and how often photos turned by 90, 180
 *   and 270 degrees (the first 600) come back upright.
 * - `degrade`: the fixture portraits degraded (smaller, blurred, darker, brighter, cut by the
 *   border): the quality measures against detection and genuine acceptance at the threshold.
 *
 * Runs one engine per core in child processes; prints the numbers src/face/README.md quotes.
 */
import { fork } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join, resolve as resolvePath } from "node:path";
import { fileURLToPath } from "node:url";
import { deserialize, serialize } from "node:v8";
import type * as tfjs from "@tensorflow/tfjs";
import sharp from "sharp";
import { type Affine, dlibFrame, frameToAffine, moveFrame, warpAffine } from "../src/face/align.js";
import {
  ARCFACE_CROP_SIZE,
  arcFaceCrop,
  arcFaceMap,
  arcFacePoints,
  mirrorImage,
} from "../src/face/arcface-align.js";
import { decodeDefaults, decodeImage } from "../src/face/decode.js";
import { detectFaces } from "../src/face/detect.js";
import {
  cosineDistance,
  type Encoder,
  encoderVersions,
  euclideanDistance,
  getEncoder,
  normalize,
} from "../src/face/encoders.js";
import {
  createFaceEngine,
  DLIB_CROP_SIZE,
  type FaceEngine,
  turnedSize,
} from "../src/face/engine.js";
import type { AlignmentPoints } from "../src/face/eyes.js";
import { shareInside } from "../src/face/image-measures.js";
import { resolveModelPaths } from "../src/face/model-files.js";
import { analyzeImage, type PipelineOptions, type PipelineResult } from "../src/face/pipeline.js";
import { PRIMARY_FACE_DEFAULTS } from "../src/face/primary-face.js";
import { QUALITY_DEFAULTS } from "../src/face/quality.js";
import { findUprightFaces, ROTATION_DEFAULTS, unturnPoint } from "../src/face/rotation.js";
import type { Box, Point, RgbImage } from "../src/face/types.js";
import { loadWarmupSample } from "../src/face/warmup-sample.js";
import { compactOf } from "../src/templates/template-builder.js";
import { equalErrorRate } from "../test/face/fixtures.js";
import { foldAccuracies, identityOf, meanSd, pct, quantile, readLfwPairs } from "./lfw-support.js";

/** One unit of work for a child: analyse `file` (optionally degraded or turned). */
interface Task {
  key: string;
  file: string;
  encoderVersion: number;
  /**
   * `faces`: every face of the image with the vectors of every encoder (see `describeFaces`);
   * `variants`: encoder 3's alignment variants `variants` of the face at `geometry`.
   */
  mode?: "faces" | "variants";
  geometry?: FaceGeometry;
  variants?: string[];
  /** Analyse with the pipeline's defaults instead of the calibration's relaxed gates. */
  production?: boolean;
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
  /** With mode `faces`. */
  faceRecords?: FaceRecord[];
  /** Size of the upright image the face records refer to. */
  size?: { width: number; height: number };
  /** With mode `variants`. */
  v3?: FaceRecord["v3"];
}

/** One detected face with everything the primary-face and encoder studies read. */
interface FaceRecord {
  /** In the pixels of the upright image. */
  box: Box;
  confidence: number;
  eyeDistance: number;
  /** Mean of the eye centres and the mouth (dlib's reference points). */
  centre: Point;
  /** Eye-line midpoint to mouth, pixels: a size that turning the head sideways barely changes. */
  eyeToMouth: number;
  pose: { yaw: number; pitch: number; roll: number };
  visible: number;
  v2: Float32Array;
  /**
   * Encoder 3's raw outputs per alignment variant (see {@link ALIGNMENTS}): the crop and its
   * mirror image. The detection pass computes `contour` (what encoders.ts does); the `fusion`
   * part adds the others for the labelled faces from `geometry`, without detecting again.
   */
  v3: Record<string, { crop: Float32Array; mirror: Float32Array }>;
  geometry: FaceGeometry;
}

/** A face's mesh and eye points in the pixels of the decoded image (before any turn). */
interface FaceGeometry {
  mesh: Point[];
  landmarks: { leftEye: Point; rightEye: Point; alignment: AlignmentPoints };
}

/** How one alignment variant places and samples encoder 3's crop. */
interface Alignment {
  /** The five template points (template order), in the geometry's pixels. */
  points(face: FaceGeometry): Point[];
  sampling: "antialiased" | "bilinear" | "area";
}

/** Mean of two mesh points (eye corners). */
const midMesh = (face: FaceGeometry, i: number, j: number): Point => {
  const a = face.mesh[i] as Point;
  const b = face.mesh[j] as Point;
  return { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
};

/**
 * Encoder 3's alignment variants measured by the `primary` part, each a full model run (and one
 * for its mirror image) per face. `contour` is what encoders.ts does. Eyes: the contour centre,
 * the pupils (iris model), the midpoint of the eye corners (mesh 33/133 on the image's left,
 * 362/263 on its right). Nose: mesh 1 (tip) or 4. Mouth: outer corners 61/291 or inner 78/308.
 * Sampling: anti-aliased bilinear (sub-samples when shrinking), plain bilinear (one sample per
 * pixel, as cv2.warpAffine), area (box filter over the sub-samples).
 */
const ALIGNMENTS: Record<string, Alignment> = {
  contour: { points: (f) => arcFacePoints(f), sampling: "antialiased" },
  pupils: {
    points: (f) => [f.landmarks.rightEye, f.landmarks.leftEye, ...arcFacePoints(f).slice(2)],
    sampling: "antialiased",
  },
  corners: {
    points: (f) => [midMesh(f, 33, 133), midMesh(f, 362, 263), ...arcFacePoints(f).slice(2)],
    sampling: "antialiased",
  },
  nose4: {
    points: (f) => {
      const p = arcFacePoints(f);
      return [p[0] as Point, p[1] as Point, f.mesh[4] as Point, p[3] as Point, p[4] as Point];
    },
    sampling: "antialiased",
  },
  mouthInner: {
    points: (f) => [...arcFacePoints(f).slice(0, 3), f.mesh[78] as Point, f.mesh[308] as Point],
    sampling: "antialiased",
  },
  contourBilinear: { points: (f) => arcFacePoints(f), sampling: "bilinear" },
  contourArea: { points: (f) => arcFacePoints(f), sampling: "area" },
  pupilsBilinear: {
    points: (f) => [f.landmarks.rightEye, f.landmarks.leftEye, ...arcFacePoints(f).slice(2)],
    sampling: "bilinear",
  },
};

/**
 * A candidate model of the `candidates` part, named `tfjs:<model.json>[@bgr][@byte|@unit]`: a
 * tfjs graph model with a 112x112 RGB input, fed encoder 4's pupil-aligned crop.
 */
interface Candidate {
  model: string;
  bgr: boolean;
  /** Input value of pixel value p. */
  scale: (p: number) => number;
}

function parseCandidate(name: string): Candidate {
  const [model, ...flags] = name.slice("tfjs:".length).split("@");
  if (!model) throw new Error(`candidate without a model path: ${name}`);
  const scale = flags.includes("byte")
    ? (p: number) => p
    : flags.includes("unit")
      ? (p: number) => p / 255
      : (p: number) => (p - 127.5) / 128;
  return { model: resolvePath(model), bgr: flags.includes("bgr"), scale };
}

const candidateModels = new Map<string, tfjs.GraphModel>();

/** Runs a candidate model on a 112x112 crop; its first output, as it comes. */
async function describeCandidate(name: string, crop: RgbImage): Promise<Float32Array> {
  const candidate = parseCandidate(name);
  // the tfjs instance the engine registered its file loader and wasm backend on
  const tf = createRequire(import.meta.url)("@tensorflow/tfjs") as typeof tfjs;
  let model = candidateModels.get(candidate.model);
  if (!model) {
    model = await tf.loadGraphModel(`file://${candidate.model}`);
    candidateModels.set(candidate.model, model);
  }
  const pixels = crop.width * crop.height;
  const input = new Float32Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    for (let c = 0; c < 3; c++) {
      input[i * 3 + c] = candidate.scale(crop.data[i * 3 + (candidate.bgr ? 2 - c : c)] as number);
    }
  }
  const tensor = tf.tensor4d(input, [1, crop.height, crop.width, 3]);
  const output = model.execute(tensor, model.outputs[0]?.name) as tfjs.Tensor;
  const vector = Float32Array.from(await output.data());
  tf.dispose([tensor, output]);
  return vector;
}

/** Encoder 3's raw outputs (crop and mirror image) for the named alignment variants. */
async function describeVariants(
  engine: FaceEngine,
  source: RgbImage,
  geometry: FaceGeometry,
  names: readonly string[],
): Promise<FaceRecord["v3"]> {
  const v3: FaceRecord["v3"] = {};
  for (const name of names) {
    if (name.startsWith("tfjs:")) {
      const crop = alignedCrop(
        source,
        (ALIGNMENTS.pupils as Alignment).points(geometry),
        "antialiased",
      );
      v3[name] = {
        crop: await describeCandidate(name, crop),
        mirror: await describeCandidate(name, mirrorImage(crop)),
      };
      continue;
    }
    const alignment = ALIGNMENTS[name];
    if (!alignment) throw new Error(`unknown alignment variant ${name}`);
    const crop = alignedCrop(source, alignment.points(geometry), alignment.sampling);
    v3[name] = {
      crop: await engine.describeArcFace(crop),
      mirror: await engine.describeArcFace(mirrorImage(crop)),
    };
  }
  return v3;
}

/** One bilinear sample per output pixel, no anti-aliasing (cv2.warpAffine's INTER_LINEAR). */
function warpPlainBilinear(source: RgbImage, m: Affine, side: number): RgbImage {
  const out = new Uint8Array(side * side * 3);
  const { data, width: sw, height: sh } = source;
  const at = (x: number, y: number, c: number) =>
    x < 0 || y < 0 || x >= sw || y >= sh ? 0 : (data[(y * sw + x) * 3 + c] as number);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const sx = m.a * (x + 0.5) + m.b * (y + 0.5) + m.c - 0.5;
      const sy = m.d * (x + 0.5) + m.e * (y + 0.5) + m.f - 0.5;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      for (let c = 0; c < 3; c++) {
        const v =
          (1 - fx) * (1 - fy) * at(x0, y0, c) +
          fx * (1 - fy) * at(x0 + 1, y0, c) +
          (1 - fx) * fy * at(x0, y0 + 1, c) +
          fx * fy * at(x0 + 1, y0 + 1, c);
        out[(y * side + x) * 3 + c] = Math.round(v);
      }
    }
  }
  return { data: out, width: side, height: side };
}

function alignedCrop(source: RgbImage, points: readonly Point[], sampling: Alignment["sampling"]) {
  if (sampling === "antialiased") return arcFaceCrop(source, points);
  const m = arcFaceMap(points);
  return sampling === "area"
    ? warpAffine(source, m, ARCFACE_CROP_SIZE, ARCFACE_CROP_SIZE, true)
    : warpPlainBilinear(source, m, ARCFACE_CROP_SIZE);
}

const FIXTURES = fileURLToPath(new URL("../test/fixtures/faces/", import.meta.url));
/** The pipeline as the face pool configures it by default (pool: `minFaceEyeDistance` 12). */
const PRODUCTION: PipelineOptions = {
  decode: decodeDefaults(),
  detect: { minEyeDistance: 12 },
  rotation: ROTATION_DEFAULTS,
  primaryFace: PRIMARY_FACE_DEFAULTS,
  quality: QUALITY_DEFAULTS,
};
/** Measure everything: nothing is unsuitable while the quality checks are calibrated. */
const OPTIONS: PipelineOptions = {
  ...PRODUCTION,
  detect: { minEyeDistance: 0 },
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

/**
 * Runs tasks over child processes, one engine each: one per core, or CALIBRATE_PROCESSES (on a
 * shared box more processes get a larger share of it).
 */
async function run(tasks: Task[]): Promise<Map<string, Outcome>> {
  const shards = Number(process.env.CALIBRATE_PROCESSES ?? availableParallelism());
  const results = new Map<string, Outcome>();
  await Promise.all(
    Array.from({ length: shards }, (_, shard) => {
      const mine = tasks.filter((_, i) => i % shards === shard);
      return new Promise<void>((resolve, reject) => {
        const child = fork(fileURLToPath(import.meta.url), ["--child"], {
          stdio: ["ignore", "ignore", "inherit", "ipc"],
          // typed arrays cross the channel as they are
          serialization: "advanced",
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

/** Where the calibration keeps its face records (vectors: never printed). */
const cacheDir = join(tmpdir(), "facevault-calibrate");
/** Names a cache after the LFW folder and the record format. */
const cacheKey = (lfw: string, count: number): string =>
  createHash("sha256")
    .update(JSON.stringify([resolvePath(lfw), count, "records-v2"]))
    .digest("hex")
    .slice(0, 16);

/**
 * Faces of every LFW image with each encoder's vectors (one detection per image). The records
 * are cached in a binary file under the system's temporary folder, keyed by the LFW folder and
 * the alignment variants, so that variants and fusions are re-scored without running the models
 * again (a pass takes several minutes per core); CALIBRATE_FRESH=1 ignores the cache.
 */
async function lfwFaces(lfw: string) {
  const pairs = readLfwPairs(lfw);
  const files = [...new Set(pairs.flatMap((p) => [p.a, p.b]))];
  const cache = join(cacheDir, `lfw-faces-${cacheKey(lfw, files.length)}.v8`);
  type Image = {
    file: string;
    identity: string;
    faces: FaceRecord[];
    size: { width: number; height: number };
  };
  if (existsSync(cache) && process.env.CALIBRATE_FRESH !== "1") {
    console.log(`(face records from ${cache})`);
    return { pairs, images: deserialize(readFileSync(cache)) as Image[] };
  }
  const out = await run(
    files.map((f) => ({ key: f, file: join(lfw, f), encoderVersion: 3, mode: "faces" as const })),
  );
  const failed = [...out.values()].filter((o) => o.error);
  if (failed.length > 0) {
    // a bug in a variant would otherwise pass for images without faces
    throw new Error(`${failed.length} images failed, e.g. ${failed[0]?.key}: ${failed[0]?.error}`);
  }
  const images: Image[] = files.map((file) => {
    const o = out.get(file);
    return {
      file,
      identity: identityOf(file),
      faces: o?.faceRecords ?? [],
      size: o?.size ?? { width: 250, height: 250 },
    };
  });
  mkdirSync(dirname(cache), { recursive: true });
  writeFileSync(cache, serialize(images));
  console.log(`(face records cached in ${cache})`);
  return { pairs, images };
}

type LfwImage = Awaited<ReturnType<typeof lfwFaces>>["images"][number];

/** Encoder 3's vector as the registry computes it: crop and mirror summed, L2-normalised. */
const flipAveraged = (f: FaceRecord, alignment = "contour"): Float32Array => {
  const { crop, mirror } = f.v3[alignment] as FaceRecord["v3"][string];
  return normalize(crop.map((x, i) => x + (mirror[i] as number)));
};

/** Whether the quality stage would take this face for features (gates of QUALITY_DEFAULTS). */
const suitable = (f: FaceRecord): boolean =>
  Math.abs(f.pose.yaw) <= QUALITY_DEFAULTS.maxYaw &&
  f.eyeDistance >= QUALITY_DEFAULTS.minEyeDistance &&
  f.visible >= QUALITY_DEFAULTS.minVisible;

/**
 * The primary-face study on LFW: which face of a photo with several is the labelled person
 * (recognised against the person's other photos with encoder 3; where that cannot tell, the face
 * nearest the centre, as LFW centres its subject), and how rules of the kind "the most prominent
 * face, if the runner-up's prominence is at most R of it" fare: chosen right, chosen wrong (a
 * stranger would be enrolled), refused. Then encoder 3's variants and encoders 1 and 2 on the
 * labelled faces.
 */
async function primary(
  lfw: string,
  study: "primary" | "fusion" | "candidates" = "primary",
): Promise<void> {
  const { pairs, images } = await lfwFaces(lfw);
  const counts = [0, 0, 0, 0];
  for (const im of images) counts[Math.min(3, im.faces.length)]++;
  console.log(
    `\nprimary face (LFW, ${images.length} images): no face ${counts[0]}, one ${counts[1]}, two ${counts[2]}, three or more ${counts[3]}`,
  );

  // the labelled face of each multi-face image, by recognition against the person's other photos
  const vectors = new Map<FaceRecord, Float32Array>();
  for (const im of images) for (const f of im.faces) vectors.set(f, flipAveraged(f));
  const singles = images.filter((im) => im.faces.length === 1);
  const crossSample: number[] = [];
  for (let i = 0; i < singles.length; i += 3) {
    for (let j = i + 1; j < singles.length; j += 3) {
      const a = singles[i] as LfwImage;
      const b = singles[j] as LfwImage;
      if (a.identity === b.identity) continue;
      crossSample.push(
        cosineDistance(
          vectors.get(a.faces[0] as FaceRecord) as Float32Array,
          vectors.get(b.faces[0] as FaceRecord) as Float32Array,
        ),
      );
    }
  }
  crossSample.sort((a, b) => a - b);
  const sameThreshold = quantile(crossSample, 0.001);
  const references = new Map<string, { file: string; v: Float32Array }[]>();
  for (const im of singles) {
    const list = references.get(im.identity) ?? [];
    list.push({ file: im.file, v: vectors.get(im.faces[0] as FaceRecord) as Float32Array });
    references.set(im.identity, list);
  }
  const multi = images.filter((im) => im.faces.length > 1);
  const centreOf = (im: LfwImage) => ({ x: im.size.width / 2, y: im.size.height / 2 });
  const offCentre = (im: LfwImage, f: FaceRecord) =>
    Math.hypot(f.centre.x - centreOf(im).x, f.centre.y - centreOf(im).y) /
    (0.5 * Math.hypot(im.size.width, im.size.height));
  let byIdentity = 0;
  let agree = 0;
  const truth = new Map<LfwImage, FaceRecord>();
  for (const im of multi) {
    const refs = (references.get(im.identity) ?? []).filter((r) => r.file !== im.file);
    const nearest = im.faces.map((f) =>
      refs.reduce(
        (best, r) => Math.min(best, cosineDistance(vectors.get(f) as Float32Array, r.v)),
        Number.POSITIVE_INFINITY,
      ),
    );
    const matching = im.faces.filter((_, i) => (nearest[i] as number) < sameThreshold);
    const centred = [...im.faces].sort((a, b) => offCentre(im, a) - offCentre(im, b))[0];
    if (matching.length === 1) {
      byIdentity++;
      if (matching[0] === centred) agree++;
      truth.set(im, matching[0] as FaceRecord);
    } else {
      truth.set(im, centred as FaceRecord);
    }
  }
  console.log(
    `  ${multi.length} images with several faces; the labelled person recognised (encoder 3, cosine distance < ${sameThreshold.toFixed(3)} = 0.1% false accepts, to another photo of the person) in ${byIdentity}, of which ${agree} are also the face nearest the centre; the other ${multi.length - byIdentity} are labelled by the centre`,
  );

  // Geometry and labels, no vectors: for studying other rules without another pass.
  const tmp = fileURLToPath(new URL("../.tmp/", import.meta.url));
  mkdirSync(tmp, { recursive: true });
  writeFileSync(
    join(tmp, "lfw-primary-geometry.json"),
    JSON.stringify(
      multi.map((im) => ({
        file: im.file,
        size: im.size,
        faces: im.faces.map((f) => ({
          centre: f.centre,
          eyeDistance: f.eyeDistance,
          eyeToMouth: f.eyeToMouth,
          box: f.box,
          confidence: f.confidence,
          pose: f.pose,
          visible: f.visible,
          labelled: f === truth.get(im),
        })),
      })),
    ),
  );

  // rules: prominence = size * (1 - alpha * off-centre); dominant when runner-up <= R * primary
  const sizes: Record<string, (f: FaceRecord) => number> = {
    "eye distance": (f) => f.eyeDistance,
    "eyes to mouth": (f) => f.eyeToMouth,
    "box side": (f) => Math.sqrt(f.box.width * f.box.height),
  };
  const centrality: Record<string, (im: LfwImage, f: FaceRecord) => number> = {
    "from the centre": offCentre,
    across: (im, f) => Math.abs(f.centre.x - im.size.width / 2) / (im.size.width / 2),
  };
  const ratios = [0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9];
  console.log(
    `  rules over these ${multi.length} images: "right/wrong/refused" at runner-up ratio R (wrong = a face other than the labelled one would be used)`,
  );
  for (const [sizeName, size] of Object.entries(sizes)) {
    for (const [centreName, off] of Object.entries(centrality)) {
      for (const alpha of [0, 0.5, 1, 2]) {
        if (alpha === 0 && centreName !== "from the centre") continue;
        const cells = ratios.map((r) => {
          let right = 0;
          let wrong = 0;
          let refused = 0;
          for (const im of multi) {
            const ranked = im.faces
              .map((f) => ({ f, p: size(f) * Math.max(0.01, 1 - alpha * off(im, f)) }))
              .sort((a, b) => b.p - a.p);
            const [first, second] = ranked as [{ f: FaceRecord; p: number }, { p: number }];
            if (second.p > r * first.p) refused++;
            else if (first.f === truth.get(im)) right++;
            else wrong++;
          }
          return `${r}: ${right}/${wrong}/${refused}`;
        });
        console.log(`  ${sizeName}, off-centre ${centreName}, alpha ${alpha}: ${cells.join("  ")}`);
      }
    }
  }
  // the distribution the margin is chosen from: runner-up / largest by eye distance
  const ratioOf = (im: LfwImage) => {
    const [a, b] = [...im.faces].sort((x, y) => y.eyeDistance - x.eyeDistance);
    return (b as FaceRecord).eyeDistance / (a as FaceRecord).eyeDistance;
  };
  const largestIsLabelled = (im: LfwImage) =>
    [...im.faces].sort((x, y) => y.eyeDistance - x.eyeDistance)[0] === truth.get(im);
  for (const [lo, hi] of [
    [0, 0.4],
    [0.4, 0.5],
    [0.5, 0.6],
    [0.6, 0.7],
    [0.7, 0.8],
    [0.8, 0.9],
    [0.9, 1.01],
  ] as const) {
    const mine = multi.filter((im) => ratioOf(im) >= lo && ratioOf(im) < hi);
    const labelled = mine.filter(largestIsLabelled).length;
    console.log(
      `  eye-distance ratio ${lo}-${Math.min(1, hi)}: ${mine.length} images, largest face is the labelled one in ${labelled}`,
    );
  }
  for (const im of multi.filter((im) => !largestIsLabelled(im))) {
    console.log(
      `    largest is not the labelled face: ${im.file} ratio ${ratioOf(im).toFixed(2)} faces ${im.faces
        .map(
          (f) =>
            `(${f.centre.x.toFixed(0)},${f.centre.y.toFixed(0)}) eyes ${f.eyeDistance.toFixed(0)} yaw ${f.pose.yaw.toFixed(0)} score ${f.confidence.toFixed(2)}${f === truth.get(im) ? " labelled" : ""}`,
        )
        .join(" ")}`,
    );
  }

  // encoder variants on the labelled faces (every pair counted: no usable face = no match)
  const labelled = new Map<string, FaceRecord | undefined>();
  for (const im of images) {
    const f = im.faces.length === 1 ? im.faces[0] : truth.get(im);
    labelled.set(im.file, f && suitable(f) ? f : undefined);
  }
  console.log(
    `\nencoders on the labelled face of each image (${[...labelled.values()].filter(Boolean).length} of ${images.length} images with a suitable one):`,
  );
  if (study === "fusion") {
    await addVariants(lfw, labelled);
    alignmentAndFusion(pairs, labelled);
    return;
  }
  if (study === "candidates") {
    const names = (process.env.CALIBRATE_CANDIDATES ?? "")
      .split(",")
      .filter((m) => m !== "")
      .map((m) => `tfjs:${m}`);
    if (names.length === 0) throw new Error("CALIBRATE_CANDIDATES names no model");
    await addVariants(lfw, labelled, ["pupils", ...names].join(","));
    candidateStudy(pairs, labelled, names);
    return;
  }
  // encoder 4 is encoder 3's model on the pupil-aligned crop alone
  await addVariants(lfw, labelled, "pupils");
  const cropAlone = (f: FaceRecord, alignment: string) =>
    unitCopy(f.v3[alignment]?.crop ?? new Float32Array());
  const variants: [string, (f: FaceRecord) => Float32Array | undefined, typeof cosineDistance][] = [
    ["2 dlib, Euclidean", (f) => f.v2, euclideanDistance],
    ["2 dlib, cosine", (f) => f.v2, cosineDistance],
    ["3 crop only", (f) => cropAlone(f, "contour"), cosineDistance],
    ["3 flip-averaged", (f) => vectors.get(f), cosineDistance],
    ["4 pupils, crop only", (f) => cropAlone(f, "pupils"), cosineDistance],
  ];
  for (const [name, vectorOf, metric] of variants) {
    const byFile = new Map<string, Float32Array>();
    for (const [file, f] of labelled) {
      const v = f && vectorOf(f);
      if (v) byFile.set(file, v);
    }
    const { atFar } = reportEncoder(name, pairs, byFile, metric);
    const [d1, d01, d001] = atFar.map((x) => x.d) as [number, number, number];
    // score 0.25 near 1% false accepts and 0.75 near 0.01%: the logistic scale from their spread
    console.log(
      `    threshold (0.1% false accepts) ${d01.toFixed(4)}, softness ${((d1 - d001) / (2 * Math.log(3))).toFixed(4)}`,
    );
    const registered = { "2 dlib, Euclidean": 2, "3 flip-averaged": 3, "4 pupils, crop only": 4 }[
      name
    ];
    if (registered !== undefined) {
      const encoder = getEncoder(registered);
      templates({ ...encoder, threshold: d01 }, byFile);
    }
  }
}

/**
 * Adds encoder 3's alignment variants to the labelled faces: CALIBRATE_VARIANTS (names of
 * {@link ALIGNMENTS}, comma-separated; default all), each cached in a file of its own next to
 * the face records.
 */
async function addVariants(
  lfw: string,
  labelled: Map<string, FaceRecord | undefined>,
  wanted = process.env.CALIBRATE_VARIANTS ?? Object.keys(ALIGNMENTS).join(","),
) {
  const names = wanted.split(",").filter((name) => name !== "" && name !== "contour");
  // candidates' names hold paths: their files are named by a hash of the name
  const cacheOf = (name: string) =>
    join(
      cacheDir,
      `lfw-variant-${cacheKey(lfw, labelled.size)}-${name.startsWith("tfjs:") ? createHash("sha256").update(name).digest("hex").slice(0, 16) : name}.v8`,
    );
  const missing = names.filter((name) => !existsSync(cacheOf(name)));
  const faces = [...labelled].filter((e): e is [string, FaceRecord] => e[1] !== undefined);
  if (missing.length > 0) {
    const out = await run(
      faces.map(([file, f]) => ({
        key: file,
        file: join(lfw, file),
        encoderVersion: 3,
        mode: "variants" as const,
        geometry: f.geometry,
        variants: missing,
      })),
    );
    const failed = [...out.values()].filter((o) => o.error || !o.v3);
    if (failed.length > 0) {
      throw new Error(`${failed.length} faces failed, e.g. ${failed[0]?.key}: ${failed[0]?.error}`);
    }
    for (const name of missing) {
      const byFile = Object.fromEntries(
        [...out].map(([file, o]) => [file, (o.v3 as FaceRecord["v3"])[name]]),
      );
      writeFileSync(cacheOf(name), serialize(byFile));
    }
  }
  for (const name of names) {
    const byFile = deserialize(readFileSync(cacheOf(name))) as FaceRecord["v3"];
    for (const [file, f] of faces) {
      const v = byFile[file];
      if (!v) throw new Error(`variant ${name} missing for ${file}`);
      f.v3[name] = v;
    }
  }
}

/**
 * Distances of every pair of `files` (i < j, row by row) under one vector per file and a metric,
 * packed into one array: 7.2 million pairs on LFW folds 1-5, computed once per variant so that
 * fusions are sums of these arrays.
 */
function pairDistances(
  files: readonly string[],
  vectorOf: (file: string) => Float32Array,
  metric: (a: Float32Array, b: Float32Array) => number,
): Float32Array {
  const n = files.length;
  const out = new Float32Array((n * (n - 1)) / 2);
  const vectors = files.map(vectorOf);
  let k = 0;
  for (let i = 0; i < n; i++) {
    const a = vectors[i] as Float32Array;
    for (let j = i + 1; j < n; j++) out[k++] = metric(a, vectors[j] as Float32Array);
  }
  return out;
}

/** Index of the pair (i, j), i < j, in {@link pairDistances}' packing. */
const pairIndex = (n: number, i: number, j: number): number =>
  i > j ? pairIndex(n, j, i) : i * n - (i * (i + 1)) / 2 + (j - i - 1);

/** A unit-length copy of `v` (the stored records stay as the models gave them). */
const unitCopy = (v: Float32Array): Float32Array => normalize(Float32Array.from(v));

/** Cosine distance of two unit vectors (1 - dot). */
function unitCosineDistance(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += (a[i] as number) * (b[i] as number);
  return 1 - dot;
}

/**
 * The faces and pairs a study compares, and its reporter: one line per distance array (packed as
 * {@link pairDistances}) with EER on the protocol's pairs, 5-fold accuracy (threshold from the
 * other folds) with features and with every pair counted, and over all cross-identity pairs the
 * genuine pairs accepted at 1%, 0.1%, 0.01% false accepts; the distance at 0.1% is the
 * threshold, the softness spreads 1% and 0.01% over scores 0.25 and 0.75 (as for the registered
 * encoders).
 */
function pairStudy(
  title: string,
  pairs: ReturnType<typeof readLfwPairs>,
  labelled: Map<string, FaceRecord | undefined>,
) {
  const files = [...labelled.keys()].filter((f) => labelled.get(f));
  const n = files.length;
  const face = (file: string) => labelled.get(file) as FaceRecord;
  const position = new Map(files.map((f, i) => [f, i]));
  const genuine = new Uint8Array((n * (n - 1)) / 2);
  for (let i = 0, k = 0; i < n; i++) {
    const id = identityOf(files[i] as string);
    for (let j = i + 1; j < n; j++, k++) genuine[k] = id === identityOf(files[j] as string) ? 1 : 0;
  }
  const protocol = pairs.map((p) => {
    const i = position.get(p.a);
    const j = position.get(p.b);
    return { k: i === undefined || j === undefined ? -1 : pairIndex(n, i, j), ...p };
  });
  console.log(
    `
${title}, ${n} labelled faces; columns: EER | accuracy (pairs with features) | every pair counted | TAR at FAR 1% | at 0.1% (threshold) | at 0.01% | softness`,
  );
  const report = (name: string, d: Float32Array): { tar01: number; eer: number } => {
    const scored = protocol.map((p) => ({
      d: p.k < 0 ? Number.POSITIVE_INFINITY : (d[p.k] as number),
      same: p.same,
      fold: p.fold,
    }));
    const { e, withFeatures, every } = protocolStats(scored);
    let impostorCount = 0;
    for (const g of genuine) impostorCount += 1 - g;
    const impostor = new Float32Array(impostorCount);
    const genuineD: number[] = [];
    for (let k = 0, m = 0; k < d.length; k++) {
      if (genuine[k]) genuineD.push(d[k] as number);
      else impostor[m++] = d[k] as number;
    }
    impostor.sort();
    const atFar = [0.01, 0.001, 0.0001].map((far) => {
      const t = quantile(impostor, far);
      return { t, tar: genuineD.filter((g) => g <= t).length / genuineD.length };
    });
    const [f1, f01, f001] = atFar as [(typeof atFar)[0], (typeof atFar)[0], (typeof atFar)[0]];
    console.log(
      `  | ${name} | ${pct(e.rate)} | ${pct(withFeatures.mean)} ± ${pct(withFeatures.sd)} | ${pct(every.mean)} ± ${pct(every.sd)} | ${pct(f1.tar)} | ${pct(f01.tar)} (${f01.t.toFixed(4)}) | ${pct(f001.tar)} | ${((f1.t - f001.t) / (2 * Math.log(3))).toFixed(4)} |`,
    );
    return { tar01: f01.tar, eer: e.rate };
  };
  return { files, face, report };
}

/**
 * Encoder 3's alignment variants (crop alone and flip-averaged) and the score fusion of encoders
 * 2 and 3 on the labelled faces: distance w·d3 + (1-w)·d2 (cosine of the concatenation
 * sqrt(w)·n(v3) ‖ sqrt(1-w)·n(v2)), and, for encoder 2's Euclidean distance, the squared
 * Euclidean distance of sqrt(w)·n(v3) ‖ sqrt(1-w)·v2 (= 2w·d3 + (1-w)·e2²), one line each (see
 * {@link pairStudy}).
 */
function alignmentAndFusion(
  pairs: ReturnType<typeof readLfwPairs>,
  labelled: Map<string, FaceRecord | undefined>,
): void {
  const { files, face, report } = pairStudy("alignment and fusion study", pairs, labelled);
  const d2cos = pairDistances(files, (f) => unitCopy(face(f).v2), unitCosineDistance);
  const d2euc = pairDistances(files, (f) => face(f).v2, euclideanDistance);
  report("2, Euclidean (used)", d2euc);
  report("2, cosine", d2cos);
  // squared for the Euclidean fusion
  const e2sq = d2euc.map((x) => x * x);
  const d3: Record<string, Float32Array> = {};
  const present = Object.keys(ALIGNMENTS).filter((name) =>
    files.every((f) => face(f).v3[name] !== undefined),
  );
  for (const name of present) {
    const crop = pairDistances(
      files,
      (f) => unitCopy((face(f).v3[name] as FaceRecord["v3"][string]).crop),
      unitCosineDistance,
    );
    report(`3 ${name}, crop alone`, crop);
    const flip = pairDistances(files, (f) => flipAveraged(face(f), name), unitCosineDistance);
    report(`3 ${name}, flip-averaged${name === "contour" ? " (used)" : ""}`, flip);
    if (name === "contour") d3["contour, crop alone"] = crop;
    d3[`${name}, flip`] = flip;
  }
  // which encoder-3 variants to fuse: CALIBRATE_FUSE=name,name (d3 keys), default the one in use
  const fuse = (process.env.CALIBRATE_FUSE ?? "contour, flip;contour, crop alone").split(";");
  const weights = (process.env.CALIBRATE_WEIGHTS ?? "0.4,0.5,0.55,0.6,0.65,0.7,0.75,0.8,0.85,0.9")
    .split(",")
    .map(Number);
  for (const name of fuse) {
    const a = d3[name];
    if (!a) throw new Error(`no encoder-3 variant ${name}; known: ${Object.keys(d3).join("; ")}`);
    const fused = new Float32Array(a.length);
    for (const w of weights) {
      for (let k = 0; k < a.length; k++)
        fused[k] = w * (a[k] as number) + (1 - w) * (d2cos[k] as number);
      report(`fused cosine, 3 ${name}, w ${w}`, fused);
    }
    for (const w of weights) {
      for (let k = 0; k < a.length; k++) {
        fused[k] = 2 * w * (a[k] as number) + (1 - w) * (e2sq[k] as number);
      }
      report(`fused Euclidean, 3 ${name}, w ${w}`, fused);
    }
  }
}

/**
 * The `candidates` part: each candidate's crop alone and flip-averaged (cosine), and its cosine
 * fused with encoder 4's, w·d4 + (1-w)·dc for the weights CALIBRATE_WEIGHTS.
 */
function candidateStudy(
  pairs: ReturnType<typeof readLfwPairs>,
  labelled: Map<string, FaceRecord | undefined>,
  names: readonly string[],
): void {
  const { files, face, report } = pairStudy("candidate models", pairs, labelled);
  const outputs = (f: string, name: string) => face(f).v3[name] as FaceRecord["v3"][string];
  const d4 = pairDistances(files, (f) => unitCopy(outputs(f, "pupils").crop), unitCosineDistance);
  report("4 pupils, crop only (default)", d4);
  const weights = (process.env.CALIBRATE_WEIGHTS ?? "0.5,0.6,0.7,0.8,0.9").split(",").map(Number);
  for (const name of names) {
    const dc = pairDistances(files, (f) => unitCopy(outputs(f, name).crop), unitCosineDistance);
    report(`${name}, crop alone`, dc);
    report(
      `${name}, flip-averaged`,
      pairDistances(files, (f) => flipAveraged(face(f), name), unitCosineDistance),
    );
    const fused = new Float32Array(dc.length);
    for (const w of weights) {
      for (let k = 0; k < dc.length; k++) {
        fused[k] = w * (d4[k] as number) + (1 - w) * (dc[k] as number);
      }
      report(`fused with 4, w ${w}`, fused);
    }
  }
}

/**
 * The protocol pairs' numbers from their distances (Infinity: a photo without features): the
 * pairs with features, their EER and fold accuracy, and the fold accuracy of every pair.
 */
function protocolStats(scored: { d: number; same: boolean; fold: number }[]) {
  const both = scored.filter((x) => Number.isFinite(x.d));
  const e = equalErrorRate(
    both.filter((x) => x.same).map((x) => x.d),
    both.filter((x) => !x.same).map((x) => x.d),
  );
  const withFeatures = meanSd(foldAccuracies(both.map((x) => ({ ...x, score: -x.d }))));
  const every = meanSd(foldAccuracies(scored.map((x) => ({ ...x, score: -x.d }))));
  return { both, e, withFeatures, every };
}

/**
 * EER and accuracy on the pairs, and over all cross-identity pairs of the images the distance at
 * 1%, 0.1% and 0.01% false accepts with the share of same-identity pairs accepted there.
 */
function reportEncoder(
  name: string,
  pairs: ReturnType<typeof readLfwPairs>,
  vectors: Map<string, Float32Array>,
  metric: (a: Float32Array, b: Float32Array) => number,
): { atFar: { far: number; d: number; tar: number }[] } {
  const scored = pairs.map((p) => {
    const a = vectors.get(p.a);
    const b = vectors.get(p.b);
    return { d: a && b ? metric(a, b) : Number.POSITIVE_INFINITY, same: p.same, fold: p.fold };
  });
  const { both, e, withFeatures, every } = protocolStats(scored);
  const keys = [...vectors.keys()];
  const impostor: number[] = [];
  const genuine: number[] = [];
  for (let i = 0; i < keys.length; i++) {
    const a = vectors.get(keys[i] as string) as Float32Array;
    const ida = identityOf(keys[i] as string);
    for (let j = i + 1; j < keys.length; j++) {
      const d = metric(a, vectors.get(keys[j] as string) as Float32Array);
      (ida === identityOf(keys[j] as string) ? genuine : impostor).push(d);
    }
  }
  impostor.sort((x, y) => x - y);
  const atFar = [0.01, 0.001, 0.0001].map((far) => {
    const d = quantile(impostor, far);
    return { far, d, tar: genuine.filter((g) => g <= d).length / genuine.length };
  });
  console.log(
    `  ${name}: ${vectors.size} images; pairs with both ${both.length}/${pairs.length}: EER ${pct(e.rate)} at d=${e.threshold.toFixed(4)}, accuracy ${pct(withFeatures.mean)} ± ${pct(withFeatures.sd)}; every pair counted ${pct(every.mean)} ± ${pct(every.sd)}; ${impostor.length} impostor / ${genuine.length} genuine cross pairs: ${atFar.map((x) => `FAR ${x.far * 100}%: d=${x.d.toFixed(4)} TAR ${pct(x.tar)}`).join("; ")}`,
  );
  return { atFar };
}

/** Every face of one image, upright, with the vectors of encoders 2 and 3 (mode `faces`). */
async function describeFaces(
  engine: FaceEngine,
  bytes: Uint8Array,
): Promise<{ records: FaceRecord[]; size: { width: number; height: number }; rotated: number }> {
  const decoded = await decodeImage(bytes, OPTIONS.decode);
  const { rotated, faces } = await findUprightFaces(
    engine,
    decoded.image,
    // no faceres here (encoder 1 is measured by the `encoders` part): ~90 ms per face
    (image) => detectFaces(engine, image, false, PRODUCTION.detect),
    OPTIONS.rotation,
  );
  const { width, height } = decoded.image;
  const upright = turnedSize(decoded.image, rotated);
  const toSource = (p: Point): Point => unturnPoint(p, rotated, width, height);
  const records: FaceRecord[] = [];
  for (const face of faces) {
    const frame = moveFrame(
      dlibFrame(face.landmarks.alignment, false),
      toSource,
      (-rotated * Math.PI) / 180,
    );
    const dlibCrop = warpAffine(
      decoded.image,
      frameToAffine(frame, DLIB_CROP_SIZE),
      DLIB_CROP_SIZE,
      DLIB_CROP_SIZE,
    );
    const geometry: FaceGeometry = {
      mesh: face.mesh.map(toSource),
      landmarks: {
        leftEye: toSource(face.landmarks.leftEye),
        rightEye: toSource(face.landmarks.rightEye),
        alignment: {
          leftEye: toSource(face.landmarks.alignment.leftEye),
          rightEye: toSource(face.landmarks.alignment.rightEye),
          mouth: toSource(face.landmarks.alignment.mouth),
        },
      },
    };
    const v3 = await describeVariants(engine, decoded.image, geometry, ["contour"]);
    const { leftEye, rightEye, mouth } = face.landmarks.alignment;
    const record: FaceRecord = {
      box: face.box,
      confidence: face.confidence,
      eyeDistance: face.eyeDistance,
      centre: {
        x: (leftEye.x + rightEye.x + mouth.x) / 3,
        y: (leftEye.y + rightEye.y + mouth.y) / 3,
      },
      eyeToMouth: Math.hypot(
        mouth.x - (leftEye.x + rightEye.x) / 2,
        mouth.y - (leftEye.y + rightEye.y) / 2,
      ),
      pose: face.pose,
      visible: shareInside(face.mesh, upright.width, upright.height),
      v2: await engine.describeDlib(dlibCrop),
      v3,
      geometry,
    };
    records.push(record);
  }
  return { records, size: upright, rotated };
}

async function encoders(lfw: string, versions: number[]): Promise<void> {
  const pairs = readLfwPairs(lfw);
  const files = [...new Set(pairs.flatMap((p) => [p.a, p.b]))];
  for (const version of versions) {
    const encoder = getEncoder(version);
    const out = await run(
      files.map((f) => ({ key: f, file: join(lfw, f), encoderVersion: version, production: true })),
    );
    const vectors = new Map<string, Float32Array>();
    for (const [key, o] of out) if (o.vector) vectors.set(key, Float32Array.from(o.vector));
    console.log(
      `\nencoder ${version} (${encoder.name}, ${encoder.metric}), the pipeline as configured by default: features for ${vectors.size} of ${files.length} images`,
    );
    const { atFar } = reportEncoder(`  ${encoder.metric}`, pairs, vectors, encoder.distance);
    const [d1, d01, d001] = atFar.map((x) => x.d) as [number, number, number];
    // score 0.25 near 1% false accepts and 0.75 near 0.01%: logistic scale from their spread
    console.log(
      `  calibration: threshold (0.1% false accepts) ${d01.toFixed(4)}, softness ${((d1 - d001) / (2 * Math.log(3))).toFixed(4)} (in use: ${encoder.threshold}, score 0.5 at it)`,
    );
    templates(encoder, vectors);
    const byFace = [...out.values()].filter((o) => o.faces > 1);
    console.log(
      `  images with several faces: ${byFace.length}, features from the face that dominates in ${byFace.filter((o) => o.vector).length}`,
    );
    if (version === 2) {
      // genuine rejections at the threshold by the larger |angle| of the two photos
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

/**
 * Templates of several images: the probe compared with the mean of the stored vectors (the
 * compact template, as Verify and Search do) or with each stored vector (the nearest counts).
 * Per person with at least k + 1 photos with features: the first k make the template, the others
 * are genuine probes; every photo of the other people is an impostor probe. Rates at the
 * encoder's threshold, and the genuine rejections at 0.1% false accepts of each method.
 */
function templates(encoder: Encoder, vectors: Map<string, Float32Array>): void {
  const byIdentity = new Map<string, string[]>();
  for (const file of [...vectors.keys()].sort()) {
    const list = byIdentity.get(identityOf(file)) ?? [];
    list.push(file);
    byIdentity.set(identityOf(file), list);
  }
  for (const k of [2, 3, 5]) {
    const people = [...byIdentity].filter(([, files]) => files.length > k);
    const scores = {
      mean: { g: [] as number[], i: [] as number[] },
      nearest: { g: [] as number[], i: [] as number[] },
    };
    for (const [identity, files] of people) {
      const stored = files.slice(0, k).map((f) => vectors.get(f) as Float32Array);
      const compact = compactOf(
        {
          encoderVersion: encoder.version,
          features: stored.map((vector) => ({ enrolledAt: new Date(0), vector })),
          thumbnails: [],
        },
        encoder.metric,
      ).vector;
      for (const [file, probe] of vectors) {
        if (files.slice(0, k).includes(file)) continue;
        const same = identityOf(file) === identity;
        scores.mean[same ? "g" : "i"].push(encoder.distance(probe, compact));
        scores.nearest[same ? "g" : "i"].push(
          Math.min(...stored.map((v) => encoder.distance(probe, v))),
        );
      }
    }
    const cells = Object.entries(scores).map(([name, { g, i }]) => {
      const sorted = [...i].sort((a, b) => a - b);
      const t = quantile(sorted, 0.001);
      return `${name}: at ${encoder.threshold} FAR ${pct(i.filter((d) => d < encoder.threshold).length / i.length, 3)} FRR ${pct(g.filter((d) => d >= encoder.threshold).length / g.length)}; at 0.1% FAR (d ${t.toFixed(3)}) FRR ${pct(g.filter((d) => d > t).length / g.length)}`;
    });
    console.log(
      `  templates of ${k} images (${people.length} people, ${scores.mean.g.length} genuine / ${scores.mean.i.length} impostor probes): ${cells.join("; ")}`,
    );
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
      "usage: npx tsx bench/face-calibrate.ts <lfw-dir> [encoders[:v,...]|primary|fusion|candidates|rotation|degrade]...",
    );
    process.exit(2);
  }
  const want = (part: string) =>
    parts.length === 0 || parts.some((p) => p === part || p.startsWith(`${part}:`));
  if (want("degrade")) await degrade();
  if (want("rotation")) await rotation(lfw);
  if (want("encoders")) {
    // `encoders:3,2` measures only those versions
    const chosen = parts.find((p) => p.startsWith("encoders:"))?.slice("encoders:".length);
    await encoders(lfw, chosen ? chosen.split(",").map(Number) : [...encoderVersions()].reverse());
  }
  if (want("primary")) await primary(lfw);
  if (parts.includes("fusion")) await primary(lfw, "fusion");
  if (parts.includes("candidates")) await primary(lfw, "candidates");
}

// ---------------------------------------------------------------- child process: analyse tasks
if (process.argv[2] === "--child") {
  const engine = await createFaceEngine();
  await engine.warmUp(await loadWarmupSample(resolveModelPaths().humanPackage));
  process.on("message", async (tasks: Task[]) => {
    for (const task of tasks) {
      try {
        const bytes = await variantBytes(task);
        if (task.mode === "variants") {
          const decoded = await decodeImage(bytes, OPTIONS.decode);
          const v3 = await describeVariants(
            engine,
            decoded.image,
            task.geometry as FaceGeometry,
            task.variants ?? [],
          );
          process.send?.({ key: task.key, faces: 1, rotated: 0, suitable: true, v3 });
          continue;
        }
        if (task.mode === "faces") {
          const { records, size, rotated } = await describeFaces(engine, bytes);
          process.send?.({
            key: task.key,
            faces: records.length,
            rotated,
            suitable: false,
            faceRecords: records,
            size,
          } satisfies Outcome);
          continue;
        }
        const r = await analyzeImage(
          engine,
          bytes,
          { encoderVersion: task.encoderVersion, thumbnails: false, patches: false },
          task.production ? PRODUCTION : OPTIONS,
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
