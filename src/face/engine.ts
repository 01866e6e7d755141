import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import type * as tfjs from "@tensorflow/tfjs";
import type { Config, FaceResult, Human } from "@vladmandic/human";
import { FacevaultError } from "../errors.js";
import { ARCFACE_CROP_SIZE } from "./arcface-align.js";
import { createMobileFaceNet } from "./mobilefacenet.js";
import { registerFileModelLoader, resolveModelPaths } from "./model-files.js";
import type { RgbImage } from "./types.js";

const require = createRequire(import.meta.url);

/** The part of face-api's module this engine uses. */
interface FaceApi {
  nets: {
    faceRecognitionNet: {
      loadFromDisk(path: string): Promise<void>;
      computeFaceDescriptor(input: tfjs.Tensor): Promise<Float32Array | Float32Array[]>;
    };
  };
}

/** Settings of the detector that decide what counts as a face. */
export interface EngineOptions {
  /**
   * Minimum detector box score and mesh score of a face, in [0,1]. Default 0.5: human's default
   * 0.2 gave spurious second faces scoring 0.25 to 0.34 while real faces scored 0.65 or more.
   */
  minConfidence?: number;
  /** Most faces reported per image. Default 10. */
  maxFaces?: number;
}

/** An image uploaded to the engine (a tensor); dispose it when done. */
export interface EngineImage {
  readonly width: number;
  readonly height: number;
  dispose(): void;
}

/** Clockwise quarter turns. */
export type Turn = 0 | 90 | 180 | 270;

/** Side of face-api's recognition input, pixels. */
export const DLIB_CROP_SIZE = 150;

/**
 * The models of one worker: human (blazeface detector, face mesh, iris, antispoof, liveness,
 * faceres) and face-api's recognition net sharing one tfjs-wasm instance, and the MobileFaceNet
 * on onnxruntime-node. One engine per worker thread; calls must not overlap (the caller queues
 * them), as concurrent calls gain nothing on one thread.
 */
export interface FaceEngine {
  /**
   * Copies RGB pixels into a tensor, turned clockwise by `turn` degrees on the way (in JS: the
   * wasm backend's Reverse kernel took 173 ms for a 1600x900 image).
   */
  upload(image: RgbImage, turn?: Turn): EngineImage;
  /**
   * Runs human on the image: detection, mesh, iris, antispoof, liveness and, when `describe` is
   * set, the faceres descriptor (encoder 1; ~90 ms per face, so only on request).
   */
  detect(image: EngineImage, describe: boolean): Promise<FaceResult[]>;
  /**
   * The detector's best face score in [0,1] (0 = none) for the image turned by `turn`, without
   * mesh or any other model: the detector alone on its 256x256 input, built in JS from the RGB
   * pixels as human builds it (stretched, bilinear), so no full-size tensor is made.
   */
  detectorScore(image: RgbImage, turn: Turn): Promise<number>;
  /** face-api's 128-D descriptor of a {@link DLIB_CROP_SIZE}-square RGB crop. */
  describeDlib(crop: RgbImage): Promise<Float32Array>;
  /**
   * MobileFaceNet's raw 512-D output for an {@link ARCFACE_CROP_SIZE}-square RGB crop aligned
   * onto the ArcFace template (not normalised).
   */
  describeArcFace(crop: RgbImage): Promise<Float32Array>;
  /**
   * Runs the detection models and the given encoder models (default: all) once on a real face:
   * the first inference of each model costs 0.3 to 0.9 s. An encoder model left out warms up on
   * its first real call; running one grows this engine's WebAssembly heap for good (faceres and
   * dlib together ~80 MB per worker), so workers warm up only their default encoder's.
   * Throws when the sample yields no face, so a broken engine never reports ready.
   */
  warmUp(sample: RgbImage, models?: readonly EncoderModel[]): Promise<void>;
}

/** The models encoders compute vectors with: faceres inside detection, dlib, MobileFaceNet. */
export type EncoderModel = "faceres" | "dlib" | "arcFace";

interface TensorImage extends EngineImage {
  readonly tensor: tfjs.Tensor3D;
}

/** Creates an engine and loads its models from the packages' own folders (no network). */
export async function createFaceEngine(options: EngineOptions = {}): Promise<FaceEngine> {
  const minConfidence = options.minConfidence ?? 0.5;
  const maxFaces = options.maxFaces ?? 10;
  const paths = resolveModelPaths();
  const tf = require("@tensorflow/tfjs") as typeof tfjs;
  registerFileModelLoader(tf);
  const { Human: HumanClass } = require(paths.humanWasmBuild) as {
    Human: new (config: Partial<Config>) => Human;
  };
  const faceApi = require(paths.faceApiWasmBuild) as FaceApi;

  // human merges every per-call config into its instance config, so each call passes the whole
  // face section: nothing leaks from one call into the next.
  const faceConfig = (describe: boolean): Partial<Config["face"]> => ({
    enabled: true,
    detector: {
      // Turns tilted faces upright before the mesh: finds faces up to about +-90 degrees roll.
      rotation: true,
      maxDetected: maxFaces,
      minConfidence,
      skipFrames: 0,
      skipTime: 0,
      return: false,
    },
    mesh: { enabled: true },
    iris: { enabled: true },
    attention: { enabled: false },
    emotion: { enabled: false },
    description: { enabled: describe, skipFrames: 0, skipTime: 0 },
    antispoof: { enabled: true, skipFrames: 0, skipTime: 0 },
    liveness: { enabled: true, skipFrames: 0, skipTime: 0 },
    gear: { enabled: false },
  });
  const human = new HumanClass({
    backend: "wasm",
    wasmPath: paths.wasmDir,
    wasmPlatformFetch: false,
    modelBasePath: `${pathToFileURL(paths.humanModels).href}/`,
    cacheModels: false,
    debug: false,
    // Sequential model runs: `async` only interleaves promises on the same thread.
    async: false,
    warmup: "none",
    // Every call is an independent photo: never reuse boxes or results of the previous call.
    cacheSensitivity: 0,
    skipAllowed: false,
    filter: { enabled: false },
    gesture: { enabled: false },
    body: { enabled: false },
    hand: { enabled: false },
    object: { enabled: false },
    segmentation: { enabled: false },
    face: faceConfig(true),
  });
  await human.load();
  await faceApi.nets.faceRecognitionNet.loadFromDisk(paths.faceApiModels);
  const mobileFaceNet = await createMobileFaceNet({
    modelPath: paths.mobileFaceNet.path,
    sha256: paths.mobileFaceNet.sha256,
  });
  const missing = ["blazeface", "facemesh", "iris", "antispoof", "liveness", "faceres"].filter(
    (name) => !human.models.models[name],
  );
  if (missing.length > 0) {
    throw new FacevaultError("internal", `face models failed to load: ${missing.join(", ")}`);
  }
  const blazeface = human.models.models.blazeface as tfjs.GraphModel;

  const wrap = (tensor: tfjs.Tensor3D): TensorImage => ({
    tensor,
    width: tensor.shape[1],
    height: tensor.shape[0],
    dispose: () => tensor.dispose(),
  });
  const tensorOf = (image: EngineImage): tfjs.Tensor3D => (image as TensorImage).tensor;

  // One int32 staging buffer per engine, grown to the largest image seen: tf.tensor3d copies
  // it into the wasm heap before returning, and a fresh 17 MB Int32Array.from per 1600x900
  // image cost 13 to 50 ms of allocation, page faults and GC where `set` into this takes 0.5 ms.
  let staging = new Int32Array(0);
  const stage = (length: number): Int32Array => {
    if (staging.length < length) staging = new Int32Array(length);
    return staging.subarray(0, length);
  };
  const upload = (image: RgbImage, turn: Turn = 0): EngineImage => {
    const { width, height } = turnedSize(image, turn);
    const pixels = stage(image.data.length);
    if (turn === 0) pixels.set(image.data);
    else turnPixels(image, turn, pixels);
    return wrap(tf.tensor3d(pixels, [height, width, 3], "int32"));
  };

  const detect = async (image: EngineImage, describe: boolean): Promise<FaceResult[]> => {
    const batch = tf.expandDims(tensorOf(image), 0) as tfjs.Tensor4D;
    try {
      const result = await human.detect(batch, { face: faceConfig(describe) });
      if (result.error)
        throw new FacevaultError("internal", `face detection failed: ${result.error}`);
      return result.face;
    } finally {
      batch.dispose();
    }
  };

  const detectorSize = blazeface.inputs[0]?.shape?.[1] ?? 256;
  const detectorScore = async (image: RgbImage, turn: Turn): Promise<number> => {
    const pixels = detectorInput(image, turn, detectorSize);
    const input = tf.tensor4d(pixels, [1, detectorSize, detectorSize, 3]);
    const outputs = blazeface.execute(input) as tfjs.Tensor[];
    input.dispose();
    try {
      // Outputs with one value per anchor are the logits; the best face is the largest.
      let best = Number.NEGATIVE_INFINITY;
      for (const t of outputs) {
        if (t.shape[t.shape.length - 1] !== 1) continue;
        const logits = await t.data();
        for (const v of logits) if (v > best) best = v;
      }
      return best === Number.NEGATIVE_INFINITY ? 0 : 1 / (1 + Math.exp(-best));
    } finally {
      tf.dispose(outputs);
    }
  };

  const describeDlib = async (crop: RgbImage): Promise<Float32Array> => {
    const input = tf.tensor3d(crop.data, [crop.height, crop.width, 3], "int32");
    try {
      const result = await faceApi.nets.faceRecognitionNet.computeFaceDescriptor(input);
      return Array.isArray(result) ? (result[0] as Float32Array) : result;
    } finally {
      input.dispose();
    }
  };

  const warmUp = async (
    sample: RgbImage,
    models: readonly EncoderModel[] = ["faceres", "dlib", "arcFace"],
  ): Promise<void> => {
    const image = upload(sample);
    try {
      const faces = await detect(image, models.includes("faceres"));
      if (faces.length !== 1) {
        throw new FacevaultError("internal", "face engine warm-up found no face in the sample");
      }
      await detectorScore(sample, 180);
    } finally {
      image.dispose();
    }
    if (models.includes("dlib")) {
      await describeDlib({
        data: new Uint8Array(DLIB_CROP_SIZE * DLIB_CROP_SIZE * 3),
        width: DLIB_CROP_SIZE,
        height: DLIB_CROP_SIZE,
      });
    }
    if (!models.includes("arcFace")) return;
    await mobileFaceNet.describe({
      data: new Uint8Array(ARCFACE_CROP_SIZE * ARCFACE_CROP_SIZE * 3),
      width: ARCFACE_CROP_SIZE,
      height: ARCFACE_CROP_SIZE,
    });
  };

  return {
    upload,
    detect,
    detectorScore,
    describeDlib,
    describeArcFace: (crop) => mobileFaceNet.describe(crop),
    warmUp,
  };
}

/** Width and height of `image` turned by `turn`. */
export function turnedSize(image: RgbImage, turn: Turn): { width: number; height: number } {
  return turn % 180 === 0
    ? { width: image.width, height: image.height }
    : { width: image.height, height: image.width };
}

/** Offset in `image.data` of the pixel shown at (x, y) of `image` turned clockwise by `turn`. */
function sourceOffset(x: number, y: number, image: RgbImage, turn: Turn): number {
  switch (turn) {
    case 0:
      return (y * image.width + x) * 3;
    case 90: // the turned image's top row is the source's left column, read bottom-up
      return ((image.height - 1 - x) * image.width + y) * 3;
    case 180:
      return ((image.height - 1 - y) * image.width + (image.width - 1 - x)) * 3;
    case 270:
      return (x * image.width + (image.width - 1 - y)) * 3;
  }
}

/** Writes the RGB pixels of `image` turned clockwise into `out`, as int32 for a tensor. */
function turnPixels(image: RgbImage, turn: Turn, out: Int32Array): void {
  const { width, height } = turnedSize(image, turn);
  const { data } = image;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = sourceOffset(x, y, image, turn);
      const o = (y * width + x) * 3;
      out[o] = data[s] as number;
      out[o + 1] = data[s + 1] as number;
      out[o + 2] = data[s + 2] as number;
    }
  }
}

/**
 * The detector's input for `image` turned by `turn`: stretched to size x size with bilinear
 * sampling as tf.image.resizeBilinear does (no corner alignment, no half-pixel centres), scaled
 * to [-1, 1].
 */
function detectorInput(image: RgbImage, turn: Turn, size: number): Float32Array {
  const { width, height } = turnedSize(image, turn);
  const out = new Float32Array(size * size * 3);
  const { data } = image;
  const fx = width / size;
  const fy = height / size;
  for (let y = 0; y < size; y++) {
    const ty = y * fy;
    const y0 = Math.floor(ty);
    const y1 = Math.min(height - 1, y0 + 1);
    const wy = ty - y0;
    for (let x = 0; x < size; x++) {
      const tx = x * fx;
      const x0 = Math.floor(tx);
      const x1 = Math.min(width - 1, x0 + 1);
      const wx = tx - x0;
      const a = sourceOffset(x0, y0, image, turn);
      const b = sourceOffset(x1, y0, image, turn);
      const c = sourceOffset(x0, y1, image, turn);
      const d = sourceOffset(x1, y1, image, turn);
      for (let k = 0; k < 3; k++) {
        const top = (data[a + k] as number) * (1 - wx) + (data[b + k] as number) * wx;
        const bottom = (data[c + k] as number) * (1 - wx) + (data[d + k] as number) * wx;
        out[(y * size + x) * 3 + k] = (top * (1 - wy) + bottom * wy) / 127.5 - 1;
      }
    }
  }
  return out;
}
