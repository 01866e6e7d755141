import { FacevaultError } from "../errors.js";
import { arcFaceCrop, arcFacePoints, mirrorImage } from "./arcface-align.js";
import type { DetectedFace } from "./detect.js";
import type { EncoderModel, FaceEngine } from "./engine.js";
import type { Point, RgbImage } from "./types.js";

/**
 * A face encoder version: how its feature vectors are computed and compared. This registry is
 * the one place an encoder is defined; a new encoder is one new entry in {@link ENCODERS}.
 * Vectors of different versions are never compared; a template made by an older encoder is
 * re-encoded from its thumbnails. Importing it loads no model (the engine is passed in).
 */
export interface Encoder {
  /** The version stored with every template. */
  readonly version: number;
  readonly name: string;
  /** Length of the feature vector. */
  readonly dimension: number;
  /** How `distance` compares vectors: L2, or 1 - cosine similarity. */
  readonly metric: VectorMetric;
  /** Distance between two vectors of this encoder; 0 = identical, larger = less alike. */
  distance(a: Float32Array, b: Float32Array): number;
  /**
   * Default decision threshold on `distance`: accept below it. The distance of 0.1% false
   * accepts over all cross-identity pairs of the LFW folds 1-5 images.
   */
  readonly threshold: number;
  /**
   * Similarity score in ]0,1] for a distance: a logistic centred on `threshold`, so a score above
   * 0.5 means accept at the default threshold.
   */
  score(distance: number): number;
  /** The distance whose score is `score` (inverse of `score`), e.g. to bound a search. */
  distanceForScore(score: number): number;
  /** Whether the detect stage must run human's faceres for this encoder. */
  readonly needsDetectorDescriptor: boolean;
  /** The engine models its vectors come from: the ones a worker warms up for it. */
  readonly models: readonly EncoderModel[];
  /** The feature vector of one face ({@link dimension} floats). */
  embed(engine: EncoderModels, input: EncoderInput): Promise<Float32Array>;
}

/** The model calls encoders make (one worker's engine). */
export type EncoderModels = Pick<FaceEngine, "describeDlib" | "describeArcFace">;

/** What an encoder may read of one face. */
export interface EncoderInput {
  /** The face as detected, in the pixels of the upright image. */
  face: DetectedFace;
  /** The decoded image (analysis size, before any turn). */
  source: RgbImage;
  /** Maps a point of the upright image into `source`. */
  toSource(p: Point): Point;
  /** face-api's dlib-style crop of the upright face (150 px square). */
  dlibCrop: RgbImage;
}

/** The distance functions encoders use. */
export type VectorMetric = "euclidean" | "cosine";

/** A feature vector tagged with the encoder that made it. */
export interface FeatureVector {
  encoderVersion: number;
  vector: Float32Array;
}

function checkDimensions(a: Float32Array, b: Float32Array, dimension: number): void {
  if (a.length !== dimension || b.length !== dimension) {
    throw new FacevaultError(
      "invalid_argument",
      `feature vectors of length ${a.length} and ${b.length}, expected ${dimension}`,
    );
  }
}

/** Euclidean (L2) distance. */
export function euclideanDistance(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] as number) - (b[i] as number);
    sum += d * d;
  }
  return Math.sqrt(sum);
}

/** Cosine distance, 1 - cos(angle), in [0, 2]. */
export function cosineDistance(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  const norm = Math.sqrt(na * nb);
  return norm === 0 ? 1 : 1 - dot / norm;
}

/** Smallest score reported, so that a score is never 0 (the contract's range is ]0,1]). */
const MIN_SCORE = 1e-6;

/** L2-normalises `v` in place and returns it. */
export function normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (const x of v) sum += x * x;
  const k = 1 / (Math.sqrt(sum) || 1);
  for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) * k;
  return v;
}

interface EncoderDefinition {
  version: number;
  name: string;
  dimension: number;
  metric: VectorMetric;
  threshold: number;
  /** Distance change that moves the score from 0.5 to about 0.73 (logistic scale). */
  softness: number;
  needsDetectorDescriptor: boolean;
  models: readonly EncoderModel[];
  /** Computes the vector; its length is checked against `dimension`. */
  embed(engine: EncoderModels, input: EncoderInput): Promise<Float32Array>;
}

function defineEncoder(def: EncoderDefinition): Encoder {
  const measure = def.metric === "cosine" ? cosineDistance : euclideanDistance;
  return {
    version: def.version,
    name: def.name,
    dimension: def.dimension,
    metric: def.metric,
    threshold: def.threshold,
    needsDetectorDescriptor: def.needsDetectorDescriptor,
    models: def.models,
    embed: async (engine, input) => {
      const vector = await def.embed(engine, input);
      if (vector.length !== def.dimension) {
        throw new FacevaultError(
          "internal",
          `encoder ${def.version} computed ${vector.length} values, expected ${def.dimension}`,
        );
      }
      return vector;
    },
    distance: (a, b) => {
      checkDimensions(a, b, def.dimension);
      return measure(a, b);
    },
    score: (distance) =>
      Math.max(MIN_SCORE, 1 / (1 + Math.exp((distance - def.threshold) / def.softness))),
    distanceForScore: (score) => {
      const s = Math.min(1 - Number.EPSILON, Math.max(MIN_SCORE, score));
      return def.threshold + def.softness * Math.log((1 - s) / s);
    },
  };
}

/**
 * The encoders this build knows. Thresholds and score scales are calibrated on LFW folds 1-5
 * (src/face/README.md, `npm run calibrate:face`).
 */
const ENCODERS: ReadonlyMap<number, Encoder> = new Map(
  [
    defineEncoder({
      version: 1,
      name: "human-faceres-1024",
      dimension: 1024,
      metric: "cosine",
      threshold: 0.37,
      softness: 0.05,
      // faceres runs inside human's detect on its own upright face crop.
      needsDetectorDescriptor: true,
      models: ["faceres"],
      embed: async (_engine, { face }) => {
        if (!face.descriptor) throw new FacevaultError("internal", "faceres descriptor missing");
        return face.descriptor;
      },
    }),
    defineEncoder({
      version: 2,
      name: "face-api-dlib-128",
      dimension: 128,
      metric: "euclidean",
      threshold: 0.54,
      softness: 0.061,
      needsDetectorDescriptor: false,
      models: ["dlib"],
      embed: (engine, { dlibCrop }) => engine.describeDlib(dlibCrop),
    }),
    defineEncoder({
      version: 3,
      name: "mobilefacenet-arcface-512",
      dimension: 512,
      metric: "cosine",
      threshold: 0.66,
      softness: 0.077,
      needsDetectorDescriptor: false,
      models: ["arcFace"],
      // The crop and its mirror image summed: on LFW folds 1-5 accuracy 99.20% vs 99.10%, EER
      // 0.94% vs 1.07%, for a second 12 ms run (src/face/README.md).
      embed: async (engine, { face, source, toSource }) => {
        const crop = arcFaceCrop(source, arcFacePoints(face).map(toSource));
        const vector = await engine.describeArcFace(crop);
        const mirrored = await engine.describeArcFace(mirrorImage(crop));
        for (let i = 0; i < vector.length; i++) {
          vector[i] = (vector[i] as number) + (mirrored[i] as number);
        }
        return normalize(vector);
      },
    }),
    defineEncoder({
      version: 4,
      name: "mobilefacenet-arcface-512-pupils",
      dimension: 512,
      metric: "cosine",
      threshold: 0.666,
      softness: 0.077,
      needsDetectorDescriptor: false,
      models: ["arcFace"],
      // Encoder 3's model on the crop alone, aligned on the pupils: on LFW folds 1-5 as accurate
      // as encoder 3's flip-averaged contour crop for one model run instead of two
      // (src/face/README.md).
      embed: async (engine, { face, source, toSource }) => {
        const crop = arcFaceCrop(source, arcFacePoints(face, "pupils").map(toSource));
        return normalize(await engine.describeArcFace(crop));
      },
    }),
  ].map((e) => [e.version, e]),
);

/** Encoder of new templates unless configured otherwise. */
export const DEFAULT_ENCODER_VERSION = 4;

/** The encoder of a version; throws FacevaultError('invalid_argument') for unknown versions. */
export function getEncoder(version: number): Encoder {
  const encoder = ENCODERS.get(version);
  if (!encoder) {
    throw new FacevaultError(
      "invalid_argument",
      `unknown encoder version ${version}; known: ${[...ENCODERS.keys()].join(", ")}`,
    );
  }
  return encoder;
}

/** Versions this build can compute and compare, oldest first. */
export function encoderVersions(): number[] {
  return [...ENCODERS.keys()].sort((a, b) => a - b);
}

/**
 * Distance and score of two tagged vectors. Throws FacevaultError('failed_precondition') when
 * their encoder versions differ: such vectors are not comparable.
 */
export function compareFeatures(
  a: FeatureVector,
  b: FeatureVector,
): { distance: number; score: number } {
  if (a.encoderVersion !== b.encoderVersion) {
    throw new FacevaultError(
      "failed_precondition",
      `cannot compare encoder ${a.encoderVersion} with encoder ${b.encoderVersion} features`,
    );
  }
  const encoder = getEncoder(a.encoderVersion);
  const distance = encoder.distance(a.vector, b.vector);
  return { distance, score: encoder.score(distance) };
}
