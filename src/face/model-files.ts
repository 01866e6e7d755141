import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type * as tfjs from "@tensorflow/tfjs";

const require = createRequire(import.meta.url);

/** Absolute paths of the engine packages and their shipped models (no network, no CDN). */
export interface ModelPaths {
  /** `@vladmandic/human`'s package folder. */
  humanPackage: string;
  /** `@vladmandic/human`'s `dist/human.node-wasm.js`, hidden by the package's exports map. */
  humanWasmBuild: string;
  /** `@vladmandic/human/models/`. */
  humanModels: string;
  /** `@vladmandic/face-api`'s `dist/face-api.node-wasm.js`. */
  faceApiWasmBuild: string;
  /** `@vladmandic/face-api/model/`. */
  faceApiModels: string;
  /** `@tensorflow/tfjs-backend-wasm/dist/`, where the `.wasm` binaries live; ends with `/`. */
  wasmDir: string;
  /** The ONNX model of encoders 3 and 4, kept in the repository (`models/`), and its sha256. */
  mobileFaceNet: { path: string; sha256: string };
}

/**
 * sha256 of `models/fr_feature.onnx` as published in faceplugin-face-recognition-js@0.0.1
 * (models/README.md): checked every time the model is loaded.
 */
export const MOBILEFACENET_SHA256 =
  "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581";

/** The repository's `models/` folder, from src/face/ under tsx or dist/src/face/ compiled. */
const MODELS_DIR = fileURLToPath(
  new URL(import.meta.url.endsWith(".ts") ? "../../models/" : "../../../models/", import.meta.url),
);

/**
 * Finds the engine files inside node_modules. Both @vladmandic packages point their main entry at
 * the tfjs-node build (which cannot install here) and hide the wasm builds behind their exports
 * maps, so the builds are located from the resolved main entry and loaded by absolute path.
 */
export function resolveModelPaths(): ModelPaths {
  const humanDist = dirname(require.resolve("@vladmandic/human"));
  const faceApiDist = dirname(require.resolve("@vladmandic/face-api"));
  const wasmDist = dirname(require.resolve("@tensorflow/tfjs-backend-wasm"));
  return {
    humanPackage: join(humanDist, ".."),
    humanWasmBuild: join(humanDist, "human.node-wasm.js"),
    humanModels: join(humanDist, "..", "models"),
    faceApiWasmBuild: join(faceApiDist, "face-api.node-wasm.js"),
    faceApiModels: join(faceApiDist, "..", "model"),
    wasmDir: `${wasmDist}/`,
    mobileFaceNet: { path: join(MODELS_DIR, "fr_feature.onnx"), sha256: MOBILEFACENET_SHA256 },
  };
}

/**
 * Registers a tfjs IO router for `file://` model URLs. Only tfjs-node ships one; with the wasm
 * backend human would otherwise try `fetch`, which cannot read files. Reads the model JSON and its
 * weight shards synchronously: this runs once per worker at start-up.
 */
export function registerFileModelLoader(tf: typeof tfjs): void {
  tf.io.registerLoadRouter((url: string | string[]): tfjs.io.IOHandler => {
    // Routers answer null for URLs they do not handle; tfjs's typing omits that.
    if (typeof url !== "string" || !url.startsWith("file://")) return null as never;
    return {
      load: async () => {
        const jsonPath = fileURLToPath(url);
        const model = JSON.parse(readFileSync(jsonPath, "utf8")) as {
          modelTopology: object;
          format?: string;
          generatedBy?: string;
          convertedBy?: string;
          signature?: object;
          userDefinedMetadata?: Record<string, object>;
          weightsManifest: { paths: string[]; weights: tfjs.io.WeightsManifestEntry[] }[];
        };
        const specs: tfjs.io.WeightsManifestEntry[] = [];
        const shards: Buffer[] = [];
        for (const group of model.weightsManifest) {
          specs.push(...group.weights);
          for (const shard of group.paths)
            shards.push(readFileSync(join(dirname(jsonPath), shard)));
        }
        const weights = Buffer.concat(shards);
        const artifacts: tfjs.io.ModelArtifacts = {
          modelTopology: model.modelTopology,
          weightSpecs: specs,
          weightData: weights.buffer.slice(
            weights.byteOffset,
            weights.byteOffset + weights.byteLength,
          ) as ArrayBuffer,
        };
        if (model.format !== undefined) artifacts.format = model.format;
        if (model.generatedBy !== undefined) artifacts.generatedBy = model.generatedBy;
        if (model.convertedBy !== undefined) artifacts.convertedBy = model.convertedBy;
        if (model.signature !== undefined) artifacts.signature = model.signature;
        if (model.userDefinedMetadata !== undefined) {
          artifacts.userDefinedMetadata = model.userDefinedMetadata;
        }
        return artifacts;
      },
    };
  });
}
