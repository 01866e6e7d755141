import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { FacevaultError } from "../errors.js";
import { ARCFACE_CROP_SIZE } from "./arcface-align.js";
import type { RgbImage } from "./types.js";

/** Where the model file is and what it must hash to. */
export interface MobileFaceNetOptions {
  /** Absolute path of `fr_feature.onnx`. */
  modelPath: string;
  /** Expected sha256 of the file, hex; a file that differs is refused. */
  sha256: string;
}

/** A loaded 512-D MobileFaceNet (ArcFace-trained) on onnxruntime-node's CPU provider. */
export interface MobileFaceNet {
  /**
   * The raw 512-D output (not normalised) for one {@link ARCFACE_CROP_SIZE}-square RGB crop,
   * aligned onto the ArcFace template.
   */
  describe(crop: RgbImage): Promise<Float32Array>;
  close(): Promise<void>;
}

/** Length of the model's output vector. */
export const MOBILEFACENET_DIMENSION = 512;

/**
 * Loads the model from `modelPath` after checking its sha256 (the bytes checked are the bytes
 * loaded). One intra-op and one inter-op thread: the pool already runs one worker per core, and
 * more threads per session would only make the workers compete.
 */
export async function createMobileFaceNet(options: MobileFaceNetOptions): Promise<MobileFaceNet> {
  const bytes = await readFile(options.modelPath).catch((err: unknown) => {
    throw new FacevaultError("internal", `face model ${options.modelPath} cannot be read`, {
      cause: err,
    });
  });
  const digest = createHash("sha256").update(bytes).digest("hex");
  if (digest !== options.sha256) {
    throw new FacevaultError(
      "internal",
      `face model ${options.modelPath} has sha256 ${digest}, expected ${options.sha256}: refusing to load it`,
    );
  }
  const session = await InferenceSession.create(bytes, {
    executionProviders: ["cpu"],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: "sequential",
    // "all" adds the NCHWc layout rewrite: measured 75 ms per face against 23 ms for "extended"
    // on this project's AVX-512 test box, with outputs equal to 4e-7.
    graphOptimizationLevel: "extended",
  });
  const inputName = session.inputNames[0] as string;
  const outputName = session.outputNames[0] as string;
  const side = ARCFACE_CROP_SIZE;
  const plane = side * side;

  return {
    async describe(crop) {
      if (crop.width !== side || crop.height !== side) {
        throw new FacevaultError("internal", `MobileFaceNet needs a ${side}x${side} crop`);
      }
      // NCHW, channels in BGR order (the order it was trained in; RGB measured clearly worse),
      // values (p - 127.5) / 128.
      const input = new Float32Array(3 * plane);
      const { data } = crop;
      for (let i = 0; i < plane; i++) {
        input[i] = ((data[i * 3 + 2] as number) - 127.5) / 128;
        input[plane + i] = ((data[i * 3 + 1] as number) - 127.5) / 128;
        input[2 * plane + i] = ((data[i * 3] as number) - 127.5) / 128;
      }
      const tensor = new Tensor("float32", input, [1, 3, side, side]);
      const outputs = await session.run({ [inputName]: tensor });
      const output = outputs[outputName];
      if (!output || output.size !== MOBILEFACENET_DIMENSION) {
        throw new FacevaultError("internal", "MobileFaceNet gave no 512-D output");
      }
      const vector = Float32Array.from(output.data as Float32Array);
      output.dispose();
      return vector;
    },
    close: () => session.release(),
  };
}
