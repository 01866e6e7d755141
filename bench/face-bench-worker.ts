/**
 * Bench worker: the bare model inference the pipeline is measured against. Receives decoded RGB
 * images at analysis size and runs only model work, no decoding, quality, thumbnail or messages
 * per image. Two schedules:
 * - `minimal`: one detection (detector, mesh, iris, antispoof, liveness) and the default
 *   encoder's descriptor: what an upright photo needs at the least;
 * - `pipeline`: the rotation stage's own model calls (the upside-down probe when the face
 *   scores below 0.9, detections of turned images) and the descriptor: the models the
 *   pipeline really runs for these photos.
 */
import { parentPort } from "node:worker_threads";
import { dlibFrame, frameToAffine, warpAffine } from "../src/face/align.js";
import { detectFaces } from "../src/face/detect.js";
import { DEFAULT_ENCODER_VERSION, getEncoder } from "../src/face/encoders.js";
import { createFaceEngine, DLIB_CROP_SIZE } from "../src/face/engine.js";
import { resolveModelPaths } from "../src/face/model-files.js";
import { findUprightFaces, ROTATION_DEFAULTS } from "../src/face/rotation.js";
import type { RgbImage } from "../src/face/types.js";
import { loadWarmupSample } from "../src/face/warmup-sample.js";

if (!parentPort) throw new Error("face-bench-worker.ts must run in a worker thread");
const port = parentPort;
const engine = await createFaceEngine();
const encoder = getEncoder(DEFAULT_ENCODER_VERSION);
await engine.warmUp(await loadWarmupSample(resolveModelPaths().humanPackage));

type Schedule = "minimal" | "pipeline";

port.on("message", async (message: { images: RgbImage[]; rounds: number; schedule: Schedule }) => {
  const started = performance.now();
  let count = 0;
  const detect = (image: ReturnType<typeof engine.upload>) =>
    detectFaces(engine, image, false, { minEyeDistance: 12 });
  for (let round = 0; round < message.rounds; round++) {
    for (const rgb of message.images) {
      let faces: Awaited<ReturnType<typeof detect>>;
      if (message.schedule === "pipeline") {
        faces = (await findUprightFaces(engine, rgb, detect, ROTATION_DEFAULTS)).faces;
      } else {
        const image = engine.upload(rgb);
        faces = await detect(image);
        image.dispose();
      }
      const face = faces[0];
      if (face) {
        const dlibCrop = warpAffine(
          rgb,
          frameToAffine(dlibFrame(face.landmarks.alignment, false), DLIB_CROP_SIZE),
          DLIB_CROP_SIZE,
          DLIB_CROP_SIZE,
        );
        await encoder.embed(engine, { face, source: rgb, toSource: (p) => p, dlibCrop });
      }
      count++;
    }
  }
  port.postMessage({ count, ms: performance.now() - started });
});
port.postMessage({ ready: true });
