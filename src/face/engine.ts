import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import type * as tfjs from "@tensorflow/tfjs";
import type { Config, FaceResult, Human } from "@vladmandic/human";
import { FacevaultError } from "../errors.js";
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

/** Side of face-api's recognition input, pixels. */
export const DLIB_CROP_SIZE = 150;

/**
 * One tfjs-wasm engine: human (blazeface detector, face mesh, iris, antispoof, liveness, faceres)
 * and face-api's recognition net sharing one tfjs instance. One engine per worker thread; calls
 * must not overlap (the caller queues them), as concurrent calls gain nothing on one thread.
 */
export interface FaceEngine {
  /** Copies RGB pixels into a tensor. */
  upload(image: RgbImage): EngineImage;
  /** The same image turned clockwise by a multiple of 90 degrees. */
  turn(image: EngineImage, clockwise: 90 | 180 | 270): EngineImage;
  /**
   * Runs human on the image: detection, mesh, iris, antispoof, liveness and, when `describe` is
   * set, the faceres descriptor (encoder 1; ~90 ms per face, so only on request).
   */
  detect(image: EngineImage, describe: boolean): Promise<FaceResult[]>;
  /** The detector's best face score in [0,1] (0 = none), without mesh or any other model. */
  detectorScore(image: EngineImage): Promise<number>;
  /** face-api's 128-D descriptor of a {@link DLIB_CROP_SIZE}-square RGB crop. */
  describeDlib(crop: RgbImage): Promise<Float32Array>;
  /**
   * Runs every model once on a real face: the first inference of each model costs 0.3 to 0.9 s.
   * Throws when the sample yields no face, so a broken engine never reports ready.
   */
  warmUp(sample: RgbImage): Promise<void>;
  /** Live tensors, to check that nothing leaks. */
  tensorCount(): number;
}

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

  const upload = (image: RgbImage): EngineImage =>
    wrap(tf.tensor3d(image.data, [image.height, image.width, 3], "int32"));

  const turn = (image: EngineImage, clockwise: 90 | 180 | 270): EngineImage =>
    wrap(
      tf.tidy(() => {
        const t = tensorOf(image);
        if (clockwise === 180) return tf.reverse(t, [0, 1]);
        const transposed = tf.transpose(t, [1, 0, 2]);
        // transpose + mirror: rows reversed = clockwise, columns reversed = counter-clockwise
        return tf.reverse(transposed, clockwise === 90 ? [1] : [0]);
      }) as tfjs.Tensor3D,
    );

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

  const detectorScore = async (image: EngineImage): Promise<number> => {
    // The same input human prepares for blazeface: stretched to 256x256, scaled to [-1, 1].
    const input = tf.tidy(() => {
      const size = blazeface.inputs[0]?.shape?.[1] ?? 256;
      const resized = tf.image.resizeBilinear(tensorOf(image), [size, size]);
      return tf.expandDims(tf.sub(tf.div(resized, 127.5), 1), 0);
    });
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

  const warmUp = async (sample: RgbImage): Promise<void> => {
    const image = upload(sample);
    try {
      const faces = await detect(image, true);
      if (faces.length !== 1) {
        throw new FacevaultError("internal", "face engine warm-up found no face in the sample");
      }
      await detectorScore(image);
    } finally {
      image.dispose();
    }
    await describeDlib({
      data: new Uint8Array(DLIB_CROP_SIZE * DLIB_CROP_SIZE * 3),
      width: DLIB_CROP_SIZE,
      height: DLIB_CROP_SIZE,
    });
  };

  return {
    upload,
    turn,
    detect,
    detectorScore,
    describeDlib,
    warmUp,
    tensorCount: () => tf.memory().numTensors,
  };
}
