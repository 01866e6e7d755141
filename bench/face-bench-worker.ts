/**
 * Bench worker: the bare model inference the pipeline is measured against. Receives decoded RGB
 * images at analysis size and runs only the models a typical upright photo needs (human's
 * detector, mesh, iris, antispoof and liveness, then face-api's descriptor on the dlib crop),
 * with no decoding, rotation probe, quality, thumbnail or messaging per image.
 */
import { parentPort } from "node:worker_threads";
import { dlibFrame, frameToAffine, warpAffine } from "../src/face/align.js";
import { detectFaces } from "../src/face/detect.js";
import { createFaceEngine, DLIB_CROP_SIZE } from "../src/face/engine.js";
import { resolveModelPaths } from "../src/face/model-files.js";
import type { RgbImage } from "../src/face/types.js";
import { loadWarmupSample } from "../src/face/warmup-sample.js";

if (!parentPort) throw new Error("face-bench-worker.ts must run in a worker thread");
const port = parentPort;
const engine = await createFaceEngine();
await engine.warmUp(await loadWarmupSample(resolveModelPaths().humanPackage));

port.on("message", async (message: { images: RgbImage[]; rounds: number }) => {
  const started = performance.now();
  let count = 0;
  for (let round = 0; round < message.rounds; round++) {
    for (const rgb of message.images) {
      const image = engine.upload(rgb);
      const faces = await detectFaces(engine, image, false, { minEyeDistance: 12 });
      image.dispose();
      const face = faces[0];
      if (face) {
        const crop = warpAffine(
          rgb,
          frameToAffine(dlibFrame(face.landmarks.alignment, false), DLIB_CROP_SIZE),
          DLIB_CROP_SIZE,
          DLIB_CROP_SIZE,
        );
        await engine.describeDlib(crop);
      }
      count++;
    }
  }
  port.postMessage({ count, ms: performance.now() - started });
});
port.postMessage({ ready: true });
